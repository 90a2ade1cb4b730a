/*
 * init.c — `vouchd init DIR`: a complete demo instance in one directory.
 *
 * Everything is made through the same service functions the API uses, so
 * the demo's CAs, profiles and tokens are audited like any others.  The TLS
 * key of the API listener is the one private key outside the signer: the
 * HTTP library (GnuTLS) needs it for the handshake (docs/security.md).
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "daemon/config.h"
#include "lib/log.h"
#include "svc/svc.h"

struct init_opts {
    const char *dir;
    int api_port, public_port;
    int tls;
    int json;
    /* keys in a PKCS#11 token (optional): module, token, backup token, PIN file */
    const char *p11_module, *p11_token, *p11_backup, *p11_pin_file;
    const char *database; /* storage URL; NULL = sqlite:DIR/vouch.db */
    const char *country;  /* the demo CAs' countryName: two capital letters */
};

static int init_usage(void)
{
    fprintf(stderr,
            "usage: vouchd init DIR [--api-port N] [--public-port N] [--no-tls] [--json]\n"
            "         [--pkcs11-module PATH --pkcs11-token LABEL [--pkcs11-backup-token LABEL]\n"
            "          [--pkcs11-pin-file PATH]] [--database URL] [--country CC]\n");
    return 2;
}

static int init_parse(int argc, char **argv, struct init_opts *o)
{
    /* "XX": ISO 3166-1 user-assigned, no country of its own until one is given */
    *o = (struct init_opts){.api_port = 8443, .public_port = 8080, .tls = 1, .country = "XX"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--api-port") == 0 && i + 1 < argc)
            o->api_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--public-port") == 0 && i + 1 < argc)
            o->public_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-tls") == 0)
            o->tls = 0;
        else if (strcmp(argv[i], "--json") == 0)
            o->json = 1;
        else if (strcmp(argv[i], "--pkcs11-module") == 0 && i + 1 < argc)
            o->p11_module = argv[++i];
        else if (strcmp(argv[i], "--pkcs11-token") == 0 && i + 1 < argc)
            o->p11_token = argv[++i];
        else if (strcmp(argv[i], "--pkcs11-backup-token") == 0 && i + 1 < argc)
            o->p11_backup = argv[++i];
        else if (strcmp(argv[i], "--pkcs11-pin-file") == 0 && i + 1 < argc)
            o->p11_pin_file = argv[++i];
        else if (strcmp(argv[i], "--database") == 0 && i + 1 < argc)
            o->database = argv[++i];
        else if (strcmp(argv[i], "--country") == 0 && i + 1 < argc)
            o->country = argv[++i];
        else if (argv[i][0] != '-' && o->dir == NULL)
            o->dir = argv[i];
        else
            return -1;
    }
    if ((o->p11_module == NULL) != (o->p11_token == NULL))
        return -1;
    if (strlen(o->country) != 2 || strspn(o->country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2)
        return -1;
    return o->dir ? 0 : -1;
}

/* A path made absolute (the config file may be read from anywhere); caller frees. */
static char *path_absolute(const char *path)
{
    char buf[PATH_MAX];

    if (path[0] == '/' || getcwd(buf, sizeof(buf)) == NULL)
        return xstrdup(path);
    return xasprintf("%s/%s", buf, path);
}

/* The PKCS#11 settings of the options into c (none given: the software store stays). */
static void init_pkcs11(const struct init_opts *o, struct config *c)
{
    if (o->p11_module == NULL)
        return;
    free(c->keystore_type);
    c->keystore_type = xstrdup("pkcs11");
    c->pkcs11_module = path_absolute(o->p11_module);
    c->pkcs11_token_label = xstrdup(o->p11_token);
    c->pkcs11_backup_token_label = o->p11_backup ? xstrdup(o->p11_backup) : NULL;
    c->pkcs11_pin_file = o->p11_pin_file ? path_absolute(o->p11_pin_file) : NULL;
}

/* Writes a fresh 256-bit key-encryption secret (hex) to path, mode 0600. */
static int kek_create(const char *path, struct err *e)
{
    unsigned char raw[32];
    char *hex;
    int rc;

    if (random_bytes(raw, sizeof(raw)) != 0)
        return err_set(e, ERR_INTERNAL, "CSPRNG failure");
    hex = hex_encode(raw, sizeof(raw));
    rc = file_write_atomic(path, hex, strlen(hex), 0600, e);
    secure_zero(raw, sizeof(raw));
    secure_zero(hex, strlen(hex));
    free(hex);
    return rc;
}

static int ca_make(struct svc *svc, const char *name, const char *subject, const char *key_type,
                   const char *parent, long days, struct err *e)
{
    static const struct actor init_actor = {.id = "init"};
    struct svc_op op = {.kind = SVC_OP_CA_CREATE,
                        .ca_req = {.name = name,
                                   .subject = subject,
                                   .key_type = key_type,
                                   .parent = parent,
                                   .validity_days = days,
                                   .path_len = parent ? 0 : -1}};
    struct svc_outcome out;

    if (svc_submit(svc, &init_actor, "default", &op, NULL, &out, e) != 0)
        return -1;
    svc_outcome_clear(&out);
    return 0;
}

/* Writes what bio holds to path (mode 0600); 0, or -1 with e set. */
static int bio_write_file(BIO *bio, const char *path, struct err *e)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    if (len <= 0)
        return err_ossl(e, ERR_INTERNAL, "%s: nothing to write", path);
    return file_write_atomic(path, data, (size_t)len, 0600, e);
}

/* The key as PEM into DIR/tls/server.key, the certificate and its chain into server.crt. */
static int tls_files_write(const char *dir, EVP_PKEY *key, X509 *cert, STACK_OF(X509) * ca,
                           struct err *e)
{
    BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
    char *kpath = xasprintf("%s/tls/server.key", dir), *cpath = xasprintf("%s/tls/server.crt", dir);
    int rc = -1, ok = kb != NULL && cb != NULL &&
                      PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) == 1 &&
                      PEM_write_bio_X509(cb, cert) == 1;

    for (int i = 0; ok && i < sk_X509_num(ca); i++)
        ok = PEM_write_bio_X509(cb, sk_X509_value(ca, i)) == 1;
    if (!ok)
        err_ossl(e, ERR_INTERNAL, "TLS key or certificate does not encode");
    else if (bio_write_file(kb, kpath, e) == 0 && bio_write_file(cb, cpath, e) == 0)
        rc = 0;
    BIO_free(kb); /* secure memory: wiped */
    BIO_free(cb);
    free(kpath);
    free(cpath);
    return rc;
}

/* Issues the API's TLS certificate (localhost, 127.0.0.1, ::1) and writes cert + key PEM. */
static int tls_make(struct svc *svc, const char *dir, struct err *e)
{
    static const struct actor init_actor = {.id = "init"};
    json_t *sans = json_pack("[s, s, s]", "dns:localhost", "ip:127.0.0.1", "ip:::1");
    char password[] = "vouch-init-transient";
    struct svc_op op = {.kind = SVC_OP_CERT_KEYGEN,
                        .ca = "issuing",
                        .profile = "tls-server",
                        .validity_days = 200, /* the most tls-server allows (BR) */
                        .subject = "/CN=localhost",
                        .sans = sans,
                        .key_type = "ec-p256",
                        .password = password};
    struct svc_outcome made = {0};
    PKCS12 *pk = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL;
    int rc = -1;

    if (svc_submit(svc, &init_actor, "default", &op, NULL, &made, e) != 0)
        goto out;
    {
        const unsigned char *q = made.pkcs12;
        pk = d2i_PKCS12(NULL, &q, (long)made.pkcs12_len);
    }
    if (pk == NULL || PKCS12_parse(pk, password, &key, &cert, &ca) != 1) {
        err_ossl(e, ERR_INTERNAL, "TLS PKCS#12 does not parse");
        goto out;
    }
    rc = tls_files_write(dir, key, cert, ca, e);
out:
    json_decref(sans);
    svc_outcome_clear(&made);
    PKCS12_free(pk);
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
    return rc;
}

/* A token of the tenant's bootstrap principal (every role of the tenant); *token caller frees. */
static int token_make(struct svc *svc, const char *tenant, const char *principal, const char *name,
                      char **token, struct err *e)
{
    static const struct actor init_actor = {.id = "init"};
    struct token_rec *t = NULL;
    char *id = NULL;
    int rc;

    if (svc_principal_bootstrap(svc, &init_actor, tenant, principal, &id, e) != 0)
        return -1;
    rc = svc_token_create(svc, &init_actor, tenant, id, name, 0, &t, token, e);
    token_rec_free(t);
    free(id);
    return rc;
}

static int tokens_make(struct svc *svc, char **system_token, char **admin_token, struct err *e)
{
    if (token_make(svc, "_system", "system administrator", "system administrator", system_token,
                   e) != 0)
        return -1;
    return token_make(svc, "default", "admin", "demo admin", admin_token, e);
}

/*
 * The CLI's settings for the demo instance: <dir>/cli.conf (0600: it holds the admin token),
 * which `vouch` reads as ./var/cli.conf when run from above an instance in ./var, or named by
 * VOUCH_CONFIG.
 */
static int cli_conf_write(const struct init_opts *o, const struct config *c, const char *adm,
                          struct err *e)
{
    char *path = xasprintf("%s/cli.conf", o->dir), *cacert = NULL, *text;
    int rc;

    if (o->tls)
        cacert = xasprintf("cacert = %s/tls/ca.crt\n", o->dir);
    text = xasprintf("# vouch CLI settings for the instance in %s (written by vouchd init)\n"
                     "url = %s://127.0.0.1:%d\ntoken = %s\ntenant = default\n%s",
                     o->dir, o->tls ? "https" : "http", c->api_port, adm, cacert ? cacert : "");
    rc = file_write_atomic(path, text, strlen(text), 0600, e);
    secure_zero(text, strlen(text));
    free(text);
    free(cacert);
    free(path);
    return rc;
}

static void init_print(const struct init_opts *o, const struct config *c, const char *sys,
                       const char *adm)
{
    const char *scheme = o->tls ? "https" : "http";

    if (o->json) {
        printf("{\"dir\": \"%s\", \"config\": \"%s/vouchd.conf\", \"system_token\": \"%s\", "
               "\"admin_token\": \"%s\", \"tenant\": \"default\", \"cacert\": \"%s/tls/ca.crt\", "
               "\"cli_config\": \"%s/cli.conf\"}\n",
               o->dir, o->dir, sys, adm, o->dir, o->dir);
        return;
    }
    printf("vouch demo instance created in %s\n\n"
           "  tenant:        default (root CA \"root\", issuing CA \"issuing\", built-in "
           "profiles)\n"
           "  API:           %s://127.0.0.1:%d/api/v1/t/default/...\n"
           "  CRLs:          http://127.0.0.1:%d/crl/default/issuing.crl\n\n"
           "These tokens are shown once; keep them:\n"
           "  system token (tenant creation):  %s\n"
           "  admin token (tenant default):    %s\n\n"
           "The CLI's settings (URL, admin token, tenant) are in %s/cli.conf, read by\n"
           "vouch from ./var/cli.conf or from VOUCH_CONFIG:\n"
           "Try:  VOUCH_CONFIG=%s/cli.conf build/vouch ca list\n",
           o->dir, scheme, c->api_port, c->public_port, sys, adm, o->dir, o->dir);
}

/* The directory, the key store, the key-encryption secret and the configuration file. */
static int init_files(const struct init_opts *o, struct config *c, struct err *e)
{
    char *path;
    FILE *f;
    int fd;

    path = xasprintf("%s/vouchd.conf", o->dir);
    if (access(path, F_OK) == 0) {
        err_set(e, ERR_CONFLICT, "%s exists: the instance is already initialised", path);
        free(path);
        return -1;
    }
    if (mkdir_p(o->dir, 0700) != 0 || mkdir_p(c->keystore, 0700) != 0) {
        free(path);
        return err_set(e, ERR_INTERNAL, "%s: %s", o->dir, strerror(errno));
    }
    if (o->tls) {
        char *tls = xasprintf("%s/tls", o->dir);
        mkdir_p(tls, 0700);
        free(tls);
    }
    if (kek_create(c->kek_file, e) != 0) {
        free(path);
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        err_set(e, ERR_INTERNAL, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(path);
        return -1;
    }
    free(path);
    config_write(c, f);
    return fclose(f) == 0 ? 0 : err_set(e, ERR_INTERNAL, "cannot write the configuration");
}

static int ca_cert_write(struct svc *svc, const char *dir, struct err *e)
{
    char *pem = svc_chain_pem(svc, "default", "root", e);
    char *path = xasprintf("%s/tls/ca.crt", dir);
    int rc = pem ? file_write_atomic(path, pem, strlen(pem), 0600, e) : -1;

    free(pem);
    free(path);
    return rc;
}

int daemon_init(int argc, char **argv)
{
    static const struct actor init_actor = {.id = "init"};
    struct init_opts o;
    struct config c;
    struct signer *signer = NULL;
    struct store *store = NULL;
    struct svc *svc = NULL;
    char abs[PATH_MAX], *sys = NULL, *adm = NULL, *root_subject = NULL, *issuing_subject = NULL;
    struct err e;
    int rc = 1;

    if (init_parse(argc, argv, &o) != 0)
        return init_usage();
    mkdir_p(o.dir, 0700);
    if (realpath(o.dir, abs) == NULL) {
        fprintf(stderr, "vouchd init: %s: %s\n", o.dir, strerror(errno));
        return 1;
    }
    o.dir = abs;
    config_defaults(&c);
    c.api_port = o.api_port;
    c.public_port = o.public_port;
    free(c.database);
    c.database = o.database != NULL ? xstrdup(o.database) : xasprintf("sqlite:%s/vouch.db", abs);
    free(c.keystore);
    c.keystore = xasprintf("%s/keys", abs);
    free(c.kek_file);
    c.kek_file = xasprintf("%s/kek", abs);
    c.public_url = xasprintf("http://127.0.0.1:%d", o.public_port);
    if (o.tls) {
        c.tls_cert = xasprintf("%s/tls/server.crt", abs);
        c.tls_key = xasprintf("%s/tls/server.key", abs);
    }
    init_pkcs11(&o, &c);
    if (config_files_check(&c, &e) != 0 || init_files(&o, &c, &e) != 0)
        goto out;
    {
        struct signer_config sc = {.keystore_dir = c.keystore,
                                   .kek_path = c.kek_file,
                                   .connections = 2,
                                   .keystore_type = c.keystore_type,
                                   .pkcs11_module = c.pkcs11_module,
                                   .pkcs11_token_label = c.pkcs11_token_label,
                                   .pkcs11_backup_token_label = c.pkcs11_backup_token_label,
                                   .pkcs11_pin_file = c.pkcs11_pin_file};
        char *node = config_node_name(&c, c.api_port, c.public_port);
        struct svc_config vc = {.public_url = c.public_url, .node = node};

        if ((signer = signer_start(&sc, &e)) != NULL &&
            (store = store_open(c.database, &e)) != NULL)
            svc = svc_new(store, signer, &vc);
        free(node);
        if (svc == NULL)
            goto out;
    }
    root_subject = xasprintf("/C=%s/O=Vouch Demo/CN=Vouch Demo Root CA", o.country);
    issuing_subject = xasprintf("/C=%s/O=Vouch Demo/CN=Vouch Demo Issuing CA", o.country);
    if (svc_tenant_create(svc, &init_actor, "default", &e) != 0 ||
        ca_make(svc, "root", root_subject, "ec-p384", NULL, 3650, &e) ||
        ca_make(svc, "issuing", issuing_subject, "ec-p256", "root", 1825, &e) ||
        (o.tls && (tls_make(svc, abs, &e) != 0 || ca_cert_write(svc, abs, &e) != 0)) ||
        tokens_make(svc, &sys, &adm, &e) != 0 || cli_conf_write(&o, &c, adm, &e) != 0)
        goto out;
    init_print(&o, &c, sys, adm);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "vouchd init: %s\n", e.msg);
    if (sys)
        secure_zero(sys, strlen(sys));
    if (adm)
        secure_zero(adm, strlen(adm));
    free(sys);
    free(adm);
    free(root_subject);
    free(issuing_subject);
    svc_free(svc);
    store_close(store);
    signer_stop(signer);
    config_free(&c);
    return rc;
}
