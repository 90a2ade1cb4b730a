/*
 * cli_offline.c — `vouch offline`: the offline CA (docs/offline.md).
 *
 * An offline store is a directory: offline.json (tenant, store id, root CA,
 * public URL, the digests of the secret and of the custodians' shares), a
 * SQLite database (vouch.db) and a software key store (keys/) encrypted
 * under a key-encryption secret that only the custodians hold — as M-of-N
 * Shamir shares or as one passphrase file.  Every command unlocks it, forks
 * the signer exactly as vouchd does (the keys never enter this process), and
 * runs the same svc functions as the server, so everything is audited in
 * the store's own hash chain.  Nothing here opens a socket.
 */
#include "cli/cli_offline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "core/profile.h"
#include "svc/svc.h"

#define OFFLINE_MAX_SHARES 16
#define OFFLINE_FILE_MAX   (64 * 1024 * 1024)

static const struct actor offline_actor = {.id = "offline"};

/*
 * Submits an operation to the store's svc as the offline tool (svc_submit,
 * the one door); *out is the caller's to clear.
 */
static int offline_submit(struct svc *svc, const char *tenant, const struct svc_op *sop,
                          struct svc_outcome *out, struct err *e)
{
    if (svc_submit(svc, &offline_actor, tenant, sop, NULL, out, e) != 0)
        return -1;
    if (out->pending) { /* an offline store has no workflows, unless someone made one */
        err_set(e, ERR_CONFLICT, "%s waits for approval as request %s: not offline",
                svc_op_name(sop->kind), out->request->id);
        svc_outcome_clear(out);
        return -1;
    }
    return 0;
}

/* The command line: --name value pairs (--share repeats), and positionals. */
struct opts {
    const char *names[48], *values[48];
    int n;
    const char *pos[4];
    int npos;
    const char *shares[OFFLINE_MAX_SHARES];
    int nshares;
};

static const char *opt(const struct opts *o, const char *name)
{
    for (int i = o->n - 1; i >= 0; i--)
        if (strcmp(o->names[i], name) == 0)
            return o->values[i];
    return NULL;
}

static long opt_long(const struct opts *o, const char *name, long fallback)
{
    const char *v = opt(o, name);

    return v ? strtol(v, NULL, 10) : fallback;
}

static int opts_parse(int argc, char **argv, struct opts *o, struct err *e)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
            if (o->npos == (int)ARRAY_LEN(o->pos))
                return err_set(e, ERR_USAGE, "too many arguments");
            o->pos[o->npos++] = argv[i];
            continue;
        }
        if (i + 1 >= argc)
            return err_set(e, ERR_USAGE, "%s: needs a value", argv[i]);
        if (strcmp(argv[i], "--share") == 0) {
            if (o->nshares == OFFLINE_MAX_SHARES)
                return err_set(e, ERR_USAGE, "at most %d shares", OFFLINE_MAX_SHARES);
            o->shares[o->nshares++] = argv[++i];
            continue;
        }
        if (o->n == (int)ARRAY_LEN(o->names))
            return err_set(e, ERR_USAGE, "too many options");
        o->names[o->n] = argv[i];
        o->values[o->n++] = argv[++i];
    }
    return 0;
}

/* ---- the store directory -------------------------------------------------- */

struct offline {
    char *dir;
    json_t *conf;
    const char *tenant, *source, *root;
    struct signer *signer;
    struct store *store;
    struct svc *svc;
};

static void offline_close(struct offline *o)
{
    svc_free(o->svc);
    store_close(o->store);
    signer_stop(o->signer);
    json_decref(o->conf);
    free(o->dir);
}

static char *path_in(const struct offline *o, const char *file)
{
    return xasprintf("%s/%s", o->dir, file);
}

/* A file's bytes (NUL-terminated beyond *len; caller frees). */
static unsigned char *data_read(const char *path, size_t *len, struct err *e)
{
    return file_read(path, OFFLINE_FILE_MAX, len, e);
}

/* The key-encryption secret's text, from the shares or the passphrase file (caller frees). */
static char *secret_unlock(const struct offline *o, const struct opts *op, struct err *e)
{
    const char *pass = opt(op, "--passphrase-file");
    const char *want = json_string_value(json_object_get(o->conf, "secret_sha256"));
    char *text = NULL, *digest;

    if (op->nshares > 0) {
        unsigned char secret[OFFLINE_SECRET_MAX];
        size_t len = 0;
        if (offline_secret_combine(o->conf, op->shares, op->nshares, secret, &len, e) != 0)
            return NULL;
        text = offline_secret_text(o->conf, secret, len);
        secure_zero(secret, sizeof(secret));
        return text;
    }
    if (pass == NULL)
        return err_set(e, ERR_USAGE,
                       "unlock the offline CA: --share FILE (as many as its threshold) or "
                       "--passphrase-file FILE"),
               NULL;
    {
        size_t len = 0;
        unsigned char *data = data_read(pass, &len, e);
        if (data == NULL)
            return NULL;
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
            len--;
        text = xstrndup((const char *)data, len);
        secure_zero(data, len);
        free(data);
    }
    digest = offline_secret_digest(text);
    if (want == NULL || strcmp(digest, want) != 0) {
        secure_zero(text, strlen(text));
        free(text);
        text = NULL;
        err_setc(e, ERR_INVALID, "secret", "%s is not this offline CA's passphrase", pass);
    }
    free(digest);
    return text;
}

/*
 * Starts the signer on the store's keys: the secret (the software store's
 * key-encryption secret, or the token's PIN) goes to it through a file in a
 * private directory on /dev/shm (memory), removed as soon as the signer
 * answered, i.e. has read it.
 */
static int signer_unlock(struct offline *o, const char *secret, struct err *e)
{
    const json_t *ks = json_object_get(o->conf, "keystore");
    char tmpl[] = "/dev/shm/vouch-offline-XXXXXX", *kek = NULL, *keys = path_in(o, "keys");
    const char *base = access("/dev/shm", W_OK) == 0 ? tmpl : NULL;
    char alt[] = "/tmp/vouch-offline-XXXXXX";
    char *d = mkdtemp(base ? tmpl : alt);
    struct signer_config sc = {.keystore_dir = keys, .connections = 2};
    int rc = -1;

    if (d == NULL) {
        err_setc(e, ERR_INVALID, "file", "cannot make a private directory: %s", strerror(errno));
        goto out;
    }
    kek = xasprintf("%s/kek", d);
    sc.kek_path = kek;
    if (json_is_object(ks)) { /* the root key in a PKCS#11 token: the secret is its PIN */
        sc.keystore_type = "pkcs11";
        sc.pkcs11_module = json_string_value(json_object_get(ks, "module"));
        sc.pkcs11_token_label = json_string_value(json_object_get(ks, "token"));
        sc.pkcs11_pin_file = kek;
    }
    if (offline_secret_write(kek, secret, e) == 0 && (o->signer = signer_start(&sc, e)) != NULL &&
        signer_ping(o->signer, e) == 0)
        rc = 0;
    unlink(kek);
    rmdir(d);
out:
    free(kek);
    free(keys);
    return rc;
}

/* Opens the offline store of --dir: config, unlock, signer, database, services. */
static int offline_open(struct offline *o, const struct opts *op, struct err *e)
{
    const char *dir = opt(op, "--dir");
    char *conf_path, *db, *secret = NULL;
    struct svc_config vc = {0};
    json_error_t je;
    int rc = -1;

    memset(o, 0, sizeof(*o));
    if (dir == NULL)
        return err_set(e, ERR_USAGE, "--dir DIR: the offline store is required");
    o->dir = xstrdup(dir);
    conf_path = path_in(o, "offline.json");
    o->conf = json_load_file(conf_path, 0, &je);
    free(conf_path);
    if (o->conf == NULL)
        return err_setc(e, ERR_INVALID, "file", "%s is not an offline store (no offline.json)",
                        dir);
    o->tenant = json_string_value(json_object_get(o->conf, "tenant"));
    o->source = json_string_value(json_object_get(o->conf, "source"));
    o->root = json_string_value(json_object_get(o->conf, "root"));
    if (o->tenant == NULL || o->source == NULL || o->root == NULL)
        return err_setc(e, ERR_INVALID, "file", "%s/offline.json is incomplete", dir);
    if ((secret = secret_unlock(o, op, e)) == NULL)
        return -1;
    rc = signer_unlock(o, secret, e);
    secure_zero(secret, strlen(secret));
    free(secret);
    if (rc != 0)
        return -1;
    db = xasprintf("sqlite:%s/vouch.db", o->dir);
    o->store = store_open(db, e);
    free(db);
    if (o->store == NULL)
        return -1;
    vc.public_url = json_string_value(json_object_get(o->conf, "public_url"));
    vc.crl_validity_hours = 24 * (long)json_integer_value(json_object_get(o->conf, "crl_days"));
    vc.ocsp_signer = "ca"; /* no delegated responder offline: OCSP is answered online */
    o->svc = svc_new(o->store, o->signer, &vc);
    return 0;
}

/* ---- output ----------------------------------------------------------------- */

static int text_out(struct cli_ctx *ctx, const char *path, const char *text, struct err *e)
{
    FILE *f;

    if (path == NULL || strcmp(path, "-") == 0) {
        fputs(text, ctx->out);
        return 0;
    }
    if ((f = fopen(path, "w")) == NULL)
        return err_setc(e, ERR_INVALID, "file", "%s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0)
        return err_setc(e, ERR_INVALID, "file", "%s: %s", path, strerror(errno));
    return 0;
}

static int pem_out(struct cli_ctx *ctx, const char *path, const char *label,
                   const unsigned char *der, size_t len, struct err *e)
{
    char *pem = svc_pem(label, der, len);
    int rc = text_out(ctx, path, pem, e);

    free(pem);
    return rc;
}

static void cert_line(struct cli_ctx *ctx, const struct cert_rec *r)
{
    fprintf(ctx->out, "%-34s %-8s %-10s %-14s %s\n", r->serial, r->status, r->ca,
            r->profile ? r->profile : "-", r->subject ? r->subject : "");
}

/* ---- commands ---------------------------------------------------------------- */

/* The store's files before anything is made: config with the secret's digests. */
static json_t *init_conf(const struct opts *op, const char *source, const char *secret_text,
                         struct err *e)
{
    const char *tenant = opt(op, "--tenant"), *url = opt(op, "--public-url");
    json_t *c;
    char *digest;

    if (tenant == NULL || !name_valid(tenant) || opt(op, "--subject") == NULL || url == NULL)
        return err_set(e, ERR_USAGE,
                       "init: --dir DIR --tenant TENANT --subject SUBJECT --public-url URL "
                       "are required"),
               NULL;
    digest = offline_secret_digest(secret_text);
    c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "format", "vouch-offline-store/1",
                  "tenant", tenant, "source", source, "root",
                  opt(op, "--name") ? opt(op, "--name") : "root", "public_url", url, "crl_days",
                  (json_int_t)opt_long(op, "--crl-days", 180), "secret_sha256", digest);
    free(digest);
    return c;
}

/*
 * The profile of the online responders the root certifies: ocsp-signing with
 * a validity that lasts from one ceremony to the next (default 90 days, at
 * most 400) instead of a week.
 */
static int responder_profile(struct offline *o, struct err *e)
{
    json_t *doc = json_loads(profile_builtin_json("ocsp-signing"), 0, NULL);
    char *text;
    int version = 0, rc;

    json_object_set_new(doc, "validity",
                        json_pack("{s:i, s:i}", "default_days", 90, "max_days", 400));
    json_object_set_new(doc, "description",
                        json_string("Online OCSP responder of an offline root (docs/offline.md)"));
    text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    rc = svc_profile_put(o->svc, &offline_actor, o->tenant, SVC_OFFLINE_RESPONDER_PROFILE, text, 1,
                         &version, e);
    free(text);
    json_decref(doc);
    return rc;
}

/* The ceremony: secret and its shares, the store, the tenant, the root CA and its first CRL. */
static int cmd_init(struct cli_ctx *ctx, const struct opts *op, struct err *e)
{
    const char *dir = opt(op, "--dir"), *share_out = opt(op, "--share-out");
    const char *pass_out = opt(op, "--passphrase-out");
    int n = (int)opt_long(op, "--shares", 0), m = (int)opt_long(op, "--threshold", 0);
    const char *p11 = opt(op, "--pkcs11-module"), *pin_file = opt(op, "--pkcs11-pin-file");
    unsigned char secret[OFFLINE_SECRET_MAX], *pin = NULL;
    size_t secret_len = 0;
    char *text = NULL, *source = random_id("off"), *conf_path = NULL, *fpr = NULL;
    struct opts unlock = *op;
    json_t *conf = NULL, *shares = json_object();
    struct ca_rec *root = NULL;
    struct offline o = {0};
    int rc = -1;

    if (dir == NULL || (p11 == NULL && (n > 0) == (pass_out != NULL)) ||
        (p11 != NULL && pass_out != NULL) || (n > 0 && share_out == NULL) ||
        (p11 != NULL && (opt(op, "--pkcs11-token") == NULL || pin_file == NULL))) {
        err_set(e, ERR_USAGE,
                "init: --dir DIR and either --shares N --threshold M --share-out PREFIX or "
                "--passphrase-out FILE (with --pkcs11-module M --pkcs11-token LABEL "
                "--pkcs11-pin-file F: the PIN is split, or F unlocks)");
        goto out;
    }
    if (p11 != NULL) { /* the key in a token: the custodians hold its PIN */
        if ((pin = data_read(pin_file, &secret_len, e)) == NULL)
            goto out;
        while (secret_len > 0 && (pin[secret_len - 1] == '\n' || pin[secret_len - 1] == '\r'))
            secret_len--;
        if (secret_len == 0 || secret_len > OFFLINE_SECRET_MAX) {
            err_setc(e, ERR_INVALID, "secret", "%s: a PIN of 1 to %d bytes", pin_file,
                     OFFLINE_SECRET_MAX);
            goto out;
        }
        memcpy(secret, pin, secret_len);
        text = xstrndup((const char *)pin, secret_len);
    } else {
        if (offline_secret_random(secret, OFFLINE_SECRET_LEN, e) != 0)
            goto out;
        secret_len = OFFLINE_SECRET_LEN;
        text = hex_encode(secret, secret_len);
    }
    if ((conf = init_conf(op, source, text, e)) == NULL)
        goto out;
    if (p11 != NULL) {
        json_object_set_new(conf, "secret_form", json_string("text"));
        json_object_set_new(conf, "keystore",
                            json_pack("{s:s, s:s, s:s}", "type", "pkcs11", "module", p11, "token",
                                      opt(op, "--pkcs11-token")));
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        err_setc(e, ERR_INVALID, "file", "%s: %s", dir, strerror(errno));
        goto out;
    }
    conf_path = xasprintf("%s/offline.json", dir);
    if (access(conf_path, F_OK) == 0) {
        err_setc(e, ERR_INVALID, "file", "%s holds an offline store already", dir);
        goto out;
    }
    if (n > 0) {
        if (offline_secret_split(secret, secret_len, source, n, m, share_out, shares, e) != 0)
            goto out;
        json_object_set_new(conf, "threshold", json_integer(m));
        json_object_set(conf, "shares", shares);
    } else if (pass_out != NULL && offline_secret_write(pass_out, text, e) != 0) {
        goto out;
    }
    if (json_dump_file(conf, conf_path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        err_setc(e, ERR_INVALID, "file", "%s: cannot write", conf_path);
        goto out;
    }
    { /* unlock with what was just made, as every later command will */
        if (n > 0) {
            for (int i = 0; i < m; i++)
                unlock.shares[i] = xasprintf("%s-%d.share", share_out, i + 1);
            unlock.nshares = m;
        } else if (unlock.n < (int)ARRAY_LEN(unlock.names)) {
            unlock.names[unlock.n] = "--passphrase-file";
            unlock.values[unlock.n++] = pass_out ? pass_out : pin_file;
        }
        rc = offline_open(&o, &unlock, e);
        for (int i = 0; n > 0 && i < m; i++)
            free((char *)unlock.shares[i]);
        if (rc != 0)
            goto out;
        rc = -1;
    }
    {
        struct svc_op sop = {
            .kind = SVC_OP_CA_CREATE,
            .ca_req = {.name = o.root,
                       .subject = opt(op, "--subject"),
                       .key_type = opt(op, "--key-type") ? opt(op, "--key-type") : "ec-p384",
                       .validity_days = opt_long(op, "--validity-days", 7300),
                       .path_len = -1,
                       .crl_validity_hours = 24 * opt_long(op, "--crl-days", 180),
                       .crl_interval_minutes = 60 * 24 * 30}};
        struct svc_outcome made = {0};
        char *pem_path = xasprintf("%s/%s.pem", dir, o.root);
        if (svc_tenant_create(o.svc, &offline_actor, o.tenant, e) != 0 ||
            responder_profile(&o, e) != 0 || offline_submit(o.svc, o.tenant, &sop, &made, e) != 0 ||
            pem_out(ctx, pem_path, "CERTIFICATE", made.ca->cert_der, made.ca->cert_len, e) != 0) {
            svc_outcome_clear(&made);
            free(pem_path);
            goto out;
        }
        root = made.ca;
        made.ca = NULL;
        fpr = svc_offline_fingerprint(root->cert_der, root->cert_len);
        fprintf(ctx->out,
                "offline CA %s of tenant %s initialised in %s (store %s)\n"
                "root certificate: %s\nSHA-256 fingerprint: %s\n",
                o.root, o.tenant, dir, source, pem_path, fpr);
        if (n > 0)
            fprintf(ctx->out, "custodian shares: %s-1.share ... %s-%d.share (%d needed)\n",
                    share_out, share_out, n, m);
        free(pem_path);
    }
    rc = 0;
out:
    offline_close(&o);
    secure_zero(secret, sizeof(secret));
    if (pin != NULL)
        secure_zero(pin, strlen((char *)pin));
    free(pin);
    if (text)
        secure_zero(text, strlen(text));
    free(text);
    free(source);
    free(conf_path);
    free(fpr);
    json_decref(conf);
    json_decref(shares);
    ca_rec_free(root);
    return rc;
}

/* The request of an online CA: its CSR signed by the root, answered with the root's bundle. */
static int cmd_sign(struct cli_ctx *ctx, struct offline *o, const struct opts *op, struct err *e)
{
    const char *req_path = opt(op, "--request"), *out = opt(op, "-o");
    json_t *responders = NULL;
    unsigned char *req = NULL;
    char *bundle = NULL;
    size_t len = 0;
    int rc = -1;

    if (req_path == NULL || out == NULL)
        return err_set(e, ERR_USAGE, "sign: --request FILE -o BUNDLE required");
    if ((req = data_read(req_path, &len, e)) == NULL)
        return -1;
    if (svc_offline_sign(o->svc, &offline_actor, o->tenant, o->root, (const char *)req,
                         opt(op, "--profile"), opt_long(op, "--validity-days", 0),
                         opt_long(op, "--responder-days", 90), &responders, e) != 0 ||
        svc_offline_export(o->svc, &offline_actor, o->tenant, o->root, o->source, responders,
                           &bundle, e) != 0 ||
        text_out(ctx, out, bundle, e) != 0)
        goto out;
    fprintf(ctx->out, "signed; bundle written to %s\n", out);
    rc = 0;
out:
    free(req);
    free(bundle);
    json_decref(responders);
    return rc;
}

static int cmd_export(struct cli_ctx *ctx, struct offline *o, const struct opts *op, struct err *e)
{
    const char *ca = opt(op, "--ca") ? opt(op, "--ca") : o->root, *out = opt(op, "-o");
    char *bundle = NULL;
    int rc;

    if (out == NULL)
        return err_set(e, ERR_USAGE, "export: -o BUNDLE required");
    rc = svc_offline_export(o->svc, &offline_actor, o->tenant, ca, o->source, NULL, &bundle, e);
    if (rc == 0 && (rc = text_out(ctx, out, bundle, e)) == 0)
        fprintf(ctx->out, "bundle of CA %s written to %s\n", ca, out);
    free(bundle);
    return rc;
}

static int cmd_revoke(struct cli_ctx *ctx, struct offline *o, const struct opts *op, struct err *e)
{
    const char *reason = opt(op, "--reason") ? opt(op, "--reason") : "unspecified";
    int code = crl_reason_parse(reason);
    struct svc_op sop = {.kind = SVC_OP_CERT_REVOKE, .reason = code};
    struct svc_outcome out;

    if (op->npos != 1)
        return err_set(e, ERR_USAGE, "revoke SERIAL [--reason NAME]");
    if (code < 0 || code == REASON_CERTIFICATE_HOLD || code == REASON_REMOVE_FROM_CRL)
        return err_set(e, ERR_USAGE, "--reason: not a revocation reason");
    sop.serial = op->pos[0];
    if (offline_submit(o->svc, o->tenant, &sop, &out, e) != 0)
        return -1;
    cert_line(ctx, out.cert);
    svc_outcome_clear(&out);
    return 0;
}

static int cmd_crl(struct cli_ctx *ctx, struct offline *o, const struct opts *op, struct err *e)
{
    const char *ca = opt(op, "--ca") ? opt(op, "--ca") : o->root;
    struct crl_rec *crl = NULL;
    int rc = -1;

    if (svc_crl_generate(o->svc, &offline_actor, o->tenant, ca, &crl, e) != 0)
        return -1;
    if (opt(op, "-o") == NULL ||
        pem_out(ctx, opt(op, "-o"), "X509 CRL", crl->der, crl->der_len, e) == 0) {
        fprintf(ctx->out, "CRL %lld of CA %s, next update in %lld days\n", (long long)crl->number,
                ca, (long long)((crl->next_update - crl->this_update) / 86400));
        rc = 0;
    }
    crl_rec_free(crl);
    return rc;
}

static int cmd_list(struct cli_ctx *ctx, struct offline *o, const struct opts *op, struct err *e)
{
    struct store_tx *tx = store_begin_read(o->store, e);
    struct cert_rec **list = NULL;
    struct ca_rec **cas = NULL;
    size_t n = 0, nc = 0;
    int rc = -1;

    (void)op;
    if (tx == NULL)
        return -1;
    if (store_ca_list(tx, o->tenant, &cas, &nc, e) != 0)
        goto out;
    fprintf(ctx->out, "CAs:\n");
    for (size_t i = 0; i < nc; i++)
        fprintf(ctx->out, "  %-16s %-8s %s\n", cas[i]->name, cas[i]->status, cas[i]->subject);
    fprintf(ctx->out, "certificates:\n");
    for (int offset = 0;; offset += 1000) {
        struct cert_query q = {.limit = 1000, .offset = offset};
        if (store_cert_search(tx, o->tenant, &q, &list, &n, e) != 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            fputs("  ", ctx->out);
            cert_line(ctx, list[i]);
        }
        cert_rec_list_free(list, n);
        if (n < 1000)
            break;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nc; i++)
        ca_rec_free(cas[i]);
    free(cas);
    store_rollback(tx);
    return rc;
}

/*
 * An issuing CA on a key the store's token already holds (an HSM both sides
 * reach): a pending CA on that key, then its certificate.
 */
static int ca_import_key_id(struct cli_ctx *ctx, struct offline *o, const struct opts *op,
                            X509 *leaf, STACK_OF(X509) * chain, struct err *e)
{
    char *subject = X509_NAME_oneline(X509_get_subject_name(leaf), NULL, 0);
    struct svc_op sop = {.kind = SVC_OP_CA_CREATE,
                         .ca_req = {.name = opt(op, "--name"),
                                    .subject = subject,
                                    .external = 1,
                                    .key_id = opt(op, "--key-id"),
                                    .path_len = -1,
                                    .profile = "sub-ca"}};
    struct svc_outcome pending = {0};
    struct ca_rec *rec = NULL;
    unsigned char *der = NULL;
    int len = i2d_X509(leaf, &der), rc = -1;

    if (subject != NULL && len > 0 && offline_submit(o->svc, o->tenant, &sop, &pending, e) == 0 &&
        svc_ca_import_cert(o->svc, &offline_actor, o->tenant, sop.ca_req.name, der, (size_t)len,
                           chain, &rec, e) == 0) {
        fprintf(ctx->out, "CA %s on key %s (%s)\n", rec->name, sop.ca_req.key_id, rec->subject);
        rc = 0;
    }
    OPENSSL_free(subject);
    OPENSSL_free(der);
    svc_outcome_clear(&pending);
    ca_rec_free(rec);
    return rc;
}

/*
 * An issuing CA's key for issuance while the online CA is down: a PEM key
 * file (imported into the store), or --key-id of a key in the store's token.
 */
static int cmd_ca_import(struct cli_ctx *ctx, struct offline *o, const struct opts *op,
                         struct err *e)
{
    const char *name = opt(op, "--name"), *key = opt(op, "--key"), *cert = opt(op, "--cert");
    const char *pw_file = opt(op, "--key-password-file"), *chain = opt(op, "--chain");
    unsigned char *key_pem = NULL, *pw = NULL;
    STACK_OF(X509) *chain_sk = sk_X509_new_null();
    X509 *leaf = NULL;
    BIO *bio = NULL;
    struct ca_rec *rec = NULL;
    size_t klen = 0, plen = 0;
    int rc = -1;

    if (name == NULL || (key == NULL) == (opt(op, "--key-id") == NULL) || cert == NULL) {
        err_set(e, ERR_USAGE,
                "ca-import: --name NAME (--key KEY.pem [--key-password-file F] | --key-id KEY) "
                "--cert CERT.pem [--chain CHAIN.pem]");
        goto out;
    }
    if (key != NULL && (key_pem = data_read(key, &klen, e)) == NULL)
        goto out;
    if (pw_file != NULL && (pw = data_read(pw_file, &plen, e)) == NULL)
        goto out;
    if (pw != NULL) {
        while (plen > 0 && (pw[plen - 1] == '\n' || pw[plen - 1] == '\r' || pw[plen - 1] == ' '))
            plen--;
        pw[plen] = '\0';
    }
    if ((bio = BIO_new_file(cert, "r")) == NULL ||
        (leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
        err_setc(e, ERR_INVALID, "file", "%s: not a PEM certificate", cert);
        goto out;
    }
    BIO_free(bio);
    bio = NULL;
    if (chain != NULL) {
        X509 *x;
        if ((bio = BIO_new_file(chain, "r")) == NULL) {
            err_setc(e, ERR_INVALID, "file", "%s: %s", chain, strerror(errno));
            goto out;
        }
        while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
            sk_X509_push(chain_sk, x);
    }
    if (key == NULL) {
        rc = ca_import_key_id(ctx, o, op, leaf, chain_sk, e);
        goto out;
    }
    if (svc_ca_import(o->svc, &offline_actor, o->tenant, name, SIGNER_IMPORT_PEM_KEY, key_pem, klen,
                      (const char *)pw, leaf, chain_sk, &rec, e) != 0)
        goto out;
    fprintf(ctx->out, "CA %s imported (%s)\n", rec->name, rec->subject);
    rc = 0;
out:
    if (pw)
        secure_zero(pw, plen);
    if (key_pem)
        secure_zero(key_pem, klen);
    free(pw);
    free(key_pem);
    BIO_free(bio);
    X509_free(leaf);
    sk_X509_pop_free(chain_sk, X509_free);
    ca_rec_free(rec);
    return rc;
}

static int cmd_issue(struct cli_ctx *ctx, struct offline *o, const struct opts *op, struct err *e)
{
    struct svc_op sop = {.kind = SVC_OP_CERT_ISSUE,
                         .ca = opt(op, "--ca"),
                         .profile = opt(op, "--profile"),
                         .validity_days = opt_long(op, "--validity-days", 0)};
    const char *csr_path = opt(op, "--csr");
    unsigned char *csr = NULL;
    struct svc_outcome out = {0};
    size_t len = 0;
    int rc = -1;

    if (sop.ca == NULL || sop.profile == NULL || csr_path == NULL)
        return err_set(e, ERR_USAGE, "issue: --ca CA --profile PROFILE --csr CSR [-o CERT.pem]");
    if ((csr = data_read(csr_path, &len, e)) == NULL)
        return -1;
    sop.csr = (const char *)csr;
    sop.csr_len = len;
    if (offline_submit(o->svc, o->tenant, &sop, &out, e) == 0 &&
        (opt(op, "-o") == NULL ||
         pem_out(ctx, opt(op, "-o"), "CERTIFICATE", out.cert->der, out.cert->der_len, e) == 0)) {
        cert_line(ctx, out.cert);
        rc = 0;
    }
    svc_outcome_clear(&out);
    free(csr);
    return rc;
}

static const struct {
    const char *verb;
    int (*fn)(struct cli_ctx *, struct offline *, const struct opts *, struct err *);
    const char *usage;
} verbs[] = {
    {"sign", cmd_sign,
     "--request REQUEST.json -o BUNDLE [--profile P] [--validity-days N] [--responder-days N]"},
    {"export", cmd_export, "[--ca CA] -o BUNDLE"},
    {"revoke", cmd_revoke, "SERIAL [--reason NAME]"},
    {"crl", cmd_crl, "[--ca CA] [-o CRL.pem]"},
    {"list", cmd_list, NULL},
    {"ca-import", cmd_ca_import,
     "--name NAME (--key KEY.pem [--key-password-file FILE] | --key-id KEY) --cert CERT.pem "
     "[--chain CHAIN.pem]"},
    {"issue", cmd_issue, "--ca CA --profile PROFILE --csr CSR [-o CERT.pem] [--validity-days N]"},
};

/* The usage of offline init, in lines as printed. */
static const char *const init_usage[] = {
    "--dir DIR --tenant TENANT --subject SUBJECT --public-url URL",
    "[--name ROOT] [--key-type TYPE] [--validity-days N] [--crl-days N]",
    "(--shares N --threshold M --share-out PREFIX | --passphrase-out FILE)",
    "[--pkcs11-module M --pkcs11-token LABEL --pkcs11-pin-file F]",
};

#define OFFLINE_UNLOCK "--dir DIR (--share FILE... | --passphrase-file FILE)"

void cli_offline_usage(FILE *f)
{
    for (size_t i = 0; i < ARRAY_LEN(init_usage); i++)
        fprintf(f, "%s%s\n", i == 0 ? "  vouch offline init " : "      ", init_usage[i]);
    for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
        fprintf(f, "  vouch offline %s " OFFLINE_UNLOCK "%s%s\n", verbs[i].verb,
                verbs[i].usage ? " " : "", verbs[i].usage ? verbs[i].usage : "");
}

json_t *cli_offline_json(void)
{
    json_t *all = json_array();
    char *line = xstrdup(init_usage[0]), *next;

    for (size_t i = 1; i < ARRAY_LEN(init_usage); i++, line = next) {
        next = xasprintf("%s %s", line, init_usage[i]);
        free(line);
    }
    json_array_append_new(all, json_pack("{s:s, s:s}", "verb", "init", "usage", line));
    free(line);
    for (size_t i = 0; i < ARRAY_LEN(verbs); i++) {
        line = xasprintf(OFFLINE_UNLOCK "%s%s", verbs[i].usage ? " " : "",
                         verbs[i].usage ? verbs[i].usage : "");
        json_array_append_new(all, json_pack("{s:s, s:s}", "verb", verbs[i].verb, "usage", line));
        free(line);
    }
    return all;
}

int cli_offline_main(struct cli_ctx *ctx, int argc, char **argv)
{
    struct opts op;
    struct offline o = {0};
    struct err e;
    int rc = -1;

    err_clear(&e);
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        cli_offline_usage(argc < 2 ? ctx->err : ctx->out);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (opts_parse(argc - 2, argv + 2, &op, &e) != 0)
        return cli_report(ctx, &e);
    if (strcmp(argv[1], "init") == 0) {
        rc = cmd_init(ctx, &op, &e);
    } else {
        size_t i;
        for (i = 0; i < ARRAY_LEN(verbs) && strcmp(verbs[i].verb, argv[1]) != 0; i++)
            ;
        if (i == ARRAY_LEN(verbs)) {
            err_set(&e, ERR_USAGE, "offline: no command %s", argv[1]);
        } else if (offline_open(&o, &op, &e) == 0) {
            rc = verbs[i].fn(ctx, &o, &op, &e);
        }
        offline_close(&o);
    }
    if (rc != 0) {
        if (e.kind == ERR_USAGE) {
            rc = cli_report(ctx, &e);
            cli_offline_usage(ctx->err);
            return rc;
        }
        if (e.kind != ERR_NONE)
            return fprintf(ctx->err, "vouch offline: %s\n", e.msg), CLI_EXIT_FAIL;
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
