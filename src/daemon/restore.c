/*
 * restore.c — `vouchd restore`: a backup (backup.h) decrypted and unpacked
 * into an empty directory, its configuration's paths rewritten to it, then
 * every tenant's audit chain verified and reported.
 */
#include "daemon/backup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "keys/keys.h"
#include "svc/svc.h"

struct restore {
    const char *from, *identity, *database; /* database: PostgreSQL to restore into */
    char *to;                               /* absolute: the configuration names it */
    json_t *manifest;
    char *names[64], *values[64]; /* settings rewritten in the configuration */
    int n;
};

static void rewrite_add(struct restore *r, const char *name, char *value)
{
    if (r->n < 64) {
        r->names[r->n] = xstrdup(name);
        r->values[r->n++] = value;
    } else {
        free(value);
    }
}

/*
 * 0 if dir does not exist (made) or is an empty directory, with *abs its
 * absolute path (caller frees); -1 with e set if not.
 */
static int target_prepare(const char *dir, char **abs, struct err *e)
{
    DIR *h = opendir(dir);
    struct dirent *d;
    int entries = 0;

    if (h == NULL) {
        if (errno != ENOENT)
            return err_set(e, ERR_USAGE, "%s: %s", dir, strerror(errno));
        if (mkdir_p(dir, 0700) != 0)
            return err_set(e, ERR_USAGE, "%s: cannot be made: %s", dir, strerror(errno));
        h = opendir(dir);
        if (h == NULL)
            return err_set(e, ERR_USAGE, "%s: %s", dir, strerror(errno));
    }
    while ((d = readdir(h)) != NULL)
        entries += strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
    closedir(h);
    if (entries > 0)
        return err_set(e, ERR_CONFLICT,
                       "%s is not empty: a backup is restored only into an empty directory", dir);
    if ((*abs = realpath(dir, NULL)) == NULL)
        return err_set(e, ERR_USAGE, "%s: %s", dir, strerror(errno));
    return 0;
}

/* Decrypts and unpacks r->from into r->to; reads its manifest. */
static int unpack(struct restore *r, struct err *e)
{
    char *tar = xasprintf("%s/.restore.tar", r->to), *mpath = xasprintf("%s/manifest.json", r->to);
    char *dec[] = {"age",      "--decrypt", "--identity",    (char *)r->identity,
                   "--output", tar,         (char *)r->from, NULL};
    char *ext[] = {"tar", "--extract",   "--no-same-owner", "--file",
                   tar,   "--directory", (char *)r->to,     NULL};
    struct err ae;
    json_error_t je;
    int rc = -1;

    if (backup_run(dec, NULL, &ae) != 0) {
        err_set(e, ERR_INVALID, "%s cannot be decrypted with %s: %s", r->from, r->identity, ae.msg);
    } else if (backup_run(ext, NULL, e) == 0) {
        r->manifest = json_load_file(mpath, 0, &je);
        if (r->manifest == NULL || json_object_get(r->manifest, "format") == NULL ||
            strcmp(json_string_value(json_object_get(r->manifest, "format")) ?: "",
                   "vouch-backup") != 0)
            err_set(e, ERR_INVALID, "%s: not a vouch backup (no manifest)", r->from);
        else
            rc = 0;
    }
    unlink(tar);
    free(tar);
    free(mpath);
    return rc;
}

/* The database of the backup: SQLite's file in place, or the dump into r->database. */
static int database_restore(struct restore *r, struct err *e)
{
    json_t *db = json_object_get(r->manifest, "database");
    const char *kind = json_string_value(json_object_get(db, "kind"));
    char *dump, *dest;
    int rc;

    if (kind != NULL && strcmp(kind, "sqlite") == 0) {
        dump = xasprintf("%s/database.sqlite", r->to);
        dest = xasprintf("%s/vouch.db", r->to);
        rc =
            rename(dump, dest) == 0 ? 0 : err_set(e, ERR_INTERNAL, "%s: %s", dump, strerror(errno));
        if (rc == 0)
            rewrite_add(r, "database", xasprintf("sqlite:%s", dest));
        free(dump);
        free(dest);
        return rc;
    }
    if (kind == NULL || strcmp(kind, "postgresql") != 0)
        return err_set(e, ERR_INVALID, "%s: the manifest names no database", r->from);
    if (r->database == NULL)
        return err_set(e, ERR_USAGE,
                       "%s holds a PostgreSQL dump: name an empty database with --database URL",
                       r->from);
    dump = xasprintf("%s/database.pgdump", r->to);
    dest = xasprintf("--dbname=%s", r->database);
    char *argv[] = {"pg_restore", "--no-owner", "--exit-on-error", dest, dump, NULL};
    if ((rc = backup_run(argv, NULL, e)) == 0) {
        unlink(dump);
        rewrite_add(r, "database", xstrdup(r->database));
    }
    free(dump);
    free(dest);
    return rc;
}

/* Each file or directory of the manifest moved from files/<setting> to the directory's top. */
static int files_restore(struct restore *r, struct err *e)
{
    json_t *files = json_object_get(r->manifest, "files"), *f;
    size_t i;

    json_array_foreach(files, i, f)
    {
        const char *setting = json_string_value(json_object_get(f, "setting"));
        const char *path = json_string_value(json_object_get(f, "path"));
        const char *base;
        char *src, *dest;
        struct stat st;

        if (setting == NULL || path == NULL || *setting == '\0' ||
            strspn(setting, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(setting))
            return err_set(e, ERR_INVALID, "%s: a file of the manifest names no setting", r->from);
        base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        src = xasprintf("%s/files/%s", r->to, setting);
        dest = xasprintf("%s/%s", r->to, base);
        if (*base == '\0' || *base == '.' || lstat(dest, &st) == 0) {
            free(dest);
            dest = xasprintf("%s/%s", r->to, setting);
        }
        if (rename(src, dest) != 0) {
            err_set(e, ERR_INTERNAL, "%s: %s", src, strerror(errno));
            free(src);
            free(dest);
            return -1;
        }
        rewrite_add(r, setting, dest);
        free(src);
    }
    {
        char *dir = xasprintf("%s/files", r->to);
        rmdir(dir);
        free(dir);
    }
    return 0;
}

/* The setting a configuration line sets ("" if none), into name. */
static void line_setting(const char *line, char *name, size_t len)
{
    size_t n = 0;

    while (isspace((unsigned char)*line))
        line++;
    while (*line != '\0' && *line != '=' && !isspace((unsigned char)*line) && n + 1 < len)
        name[n++] = *line++;
    name[n] = '\0';
    while (isspace((unsigned char)*line))
        line++;
    if (*line != '=')
        name[0] = '\0';
}

/* to/vouchd.conf rewritten: each setting of r's list set to its new value (appended if absent). */
static int config_rewrite(struct restore *r, struct err *e)
{
    char *path = xasprintf("%s/vouchd.conf", r->to), *tmp = xasprintf("%s.new", path);
    char line[4096], name[128];
    int seen[64] = {0}, rc = 0;
    FILE *in = fopen(path, "r"), *out = in ? fopen(tmp, "w") : NULL;

    if (in == NULL || out == NULL) {
        rc = err_set(e, ERR_INTERNAL, "%s: %s", in ? tmp : path, strerror(errno));
        goto out;
    }
    while (fgets(line, sizeof(line), in) != NULL) {
        int k;
        line_setting(line, name, sizeof(name));
        for (k = 0; k < r->n && (name[0] == '\0' || strcmp(name, r->names[k]) != 0); k++)
            ;
        if (k < r->n) {
            fprintf(out, "%s = %s\n", r->names[k], r->values[k]);
            seen[k] = 1;
        } else {
            fputs(line, out);
        }
    }
    fprintf(out, "\n# restored from %s\n", r->from);
    for (int k = 0; k < r->n; k++)
        if (!seen[k])
            fprintf(out, "%s = %s\n", r->names[k], r->values[k]);
    if (fclose(out) != 0 || rename(tmp, path) != 0)
        rc = err_set(e, ERR_INTERNAL, "%s: %s", path, strerror(errno));
    out = NULL;
out:
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        fclose(out);
    free(path);
    free(tmp);
    return rc;
}

/* One tenant's chain verified and printed; 1 if it verifies, 0 if not, -1 on an error. */
static int chain_report(struct svc *svc, const char *tenant, struct err *e)
{
    struct svc_audit_verdict v;

    if (svc_audit_verify(svc, tenant, &v, e) != 0)
        return -1;
    if (v.ok)
        printf("audit chain %s: %" PRId64 " events, %" PRId64 " checkpoints: ok\n", tenant, v.count,
               v.checkpoints);
    else
        printf("audit chain %s: BROKEN at event %" PRId64 ": %s\n", tenant, v.bad_seq, v.reason);
    return v.ok;
}

/*
 * The signer of the restored configuration (its key store and secret, or its
 * token): the checkpoints' keys are compared with the signer's.  NULL, e set.
 */
static struct signer *restored_signer(const struct config *c, struct err *e)
{
    struct signer_config sc = {.keystore_dir = c->keystore,
                               .kek_path = c->kek_file,
                               .connections = 1,
                               .keystore_type = c->keystore_type,
                               .pkcs11_module = c->pkcs11_module,
                               .pkcs11_token_label = c->pkcs11_token_label,
                               .pkcs11_use_slot = c->pkcs11_slot >= 0,
                               .pkcs11_slot = (unsigned long)c->pkcs11_slot,
                               .pkcs11_backup_token_label = c->pkcs11_backup_token_label,
                               .pkcs11_pin_file = c->pkcs11_pin_file,
                               .pkcs11_tenant_tokens = c->pkcs11_tenant_tokens,
                               .pkcs11_tenant_pin_dir = c->pkcs11_tenant_pin_dir};

    return signer_start(&sc, e);
}

/*
 * Every tenant's audit chain and _system's verified (their checkpoints too,
 * against the restored keys); the restore recorded in _system.  0 if all
 * verify, 1 if one does not, -1.
 */
static int chains_verify(struct restore *r, struct err *e)
{
    char *conf = xasprintf("%s/vouchd.conf", r->to);
    struct svc_config sc = {.node = "restore"};
    struct tenant_rec **tenants = NULL;
    struct store *store = NULL;
    struct signer *signer = NULL;
    struct svc *svc = NULL;
    struct config cfg;
    size_t n = 0;
    int rc = -1, ok = 1, one;

    config_defaults(&cfg);
    if (config_load(&cfg, conf, e) != 0 || config_check(&cfg, e) != 0 ||
        (signer = restored_signer(&cfg, e)) == NULL ||
        (store = store_open(cfg.database, e)) == NULL)
        goto out;
    svc = svc_new(store, signer, &sc);
    if (svc_tenant_list(svc, &tenants, &n, e) != 0)
        goto out;
    for (size_t i = 0; i <= n; i++) {
        if ((one = chain_report(svc, i < n ? tenants[i]->name : "_system", e)) < 0)
            goto out;
        ok &= one;
    }
    {
        json_t *d = json_pack("{s:s, s:b}", "from", r->from, "chains_verified", ok);
        char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        struct audit_event ev = {.actor = "vouchd restore",
                                 .action = "backup.restore",
                                 .object = r->from,
                                 .result = ok ? "ok" : "error",
                                 .detail = detail};
        rc = audit_record(store, "_system", &ev, e) == 0 ? !ok : -1;
        free(detail);
        json_decref(d);
    }
out:
    for (size_t i = 0; i < n; i++)
        tenant_rec_free(tenants[i]);
    free(tenants);
    svc_free(svc);
    store_close(store);
    signer_stop(signer);
    config_free(&cfg);
    free(conf);
    return rc;
}

static int restore_usage(void)
{
    fprintf(stderr, "usage: vouchd restore --from FILE --identity AGE_IDENTITY_FILE --to EMPTY_DIR "
                    "[--database POSTGRESQL_URL]\n");
    return 2;
}

int daemon_restore(int argc, char **argv)
{
    struct restore r = {0};
    const char *to = NULL;
    struct err e;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--from") == 0       ? &r.from
                            : strcmp(argv[i], "--identity") == 0 ? &r.identity
                            : strcmp(argv[i], "--to") == 0       ? &to
                            : strcmp(argv[i], "--database") == 0 ? &r.database
                                                                 : NULL;
        if (slot == NULL || i + 1 >= argc)
            return restore_usage();
        *slot = argv[++i];
    }
    if (r.from == NULL || r.identity == NULL || to == NULL)
        return restore_usage();
    if (access(r.from, R_OK) != 0) {
        fprintf(stderr, "vouchd restore: %s: %s\n", r.from, strerror(errno));
        return 1;
    }
    if (target_prepare(to, &r.to, &e) != 0 || unpack(&r, &e) != 0 ||
        database_restore(&r, &e) != 0 || files_restore(&r, &e) != 0 ||
        config_rewrite(&r, &e) != 0) {
        fprintf(stderr, "vouchd restore: %s\n", e.msg);
        goto out;
    }
    printf("%s restored into %s (configuration %s/vouchd.conf)\n", r.from, r.to, r.to);
    switch (chains_verify(&r, &e)) {
    case 0:
        printf("every audit chain verifies\n");
        rc = 0;
        break;
    case 1:
        fprintf(stderr, "vouchd restore: an audit chain does not verify (above)\n");
        break;
    default:
        fprintf(stderr, "vouchd restore: audit chains not verified: %s\n", e.msg);
    }
out:
    json_decref(r.manifest);
    free(r.to);
    for (int i = 0; i < r.n; i++) {
        free(r.names[i]);
        free(r.values[i]);
    }
    return rc;
}
