/*
 * backup.c — a consistent, encrypted backup of a whole instance while it
 * serves, on command (`vouchd backup`) or on vouchd's schedule (see backup.h).
 */
#include "daemon/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "lib/log.h"
#include "store/store_copy.h"

#define BACKUP_PREFIX "vouch-backup-"
#define BACKUP_SUFFIX ".tar.age"

/* ---- running the tools ---------------------------------------------------- */

/* In the child between fork and exec: only async-signal-safe calls. */
static void child_exec(char *const argv[], const char *out_path, int errfd)
{
    sigset_t none;
    int in = open("/dev/null", O_RDONLY), out;

    out =
        out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0)
        _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(errfd, 2);
    close_range(3, ~0U, 0); /* no listener, database connection or signer socket goes along */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    _exit(127);
}

int backup_run(char *const argv[], const char *out_path, struct err *e)
{
    char msg[512];
    size_t len = 0;
    ssize_t got;
    int fds[2], status;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return err_set(e, ERR_INTERNAL, "%s: pipe: %s", argv[0], strerror(errno));
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return err_set(e, ERR_INTERNAL, "%s: fork: %s", argv[0], strerror(errno));
    }
    if (pid == 0)
        child_exec(argv, out_path, fds[1]);
    close(fds[1]);
    while ((got = read(fds[0], msg + len, sizeof(msg) - 1 - len)) > 0 ||
           (got < 0 && errno == EINTR))
        if (got > 0 && (len += (size_t)got) == sizeof(msg) - 1) {
            char sink[512]; /* the rest is read and dropped: the child must not block */
            while (read(fds[0], sink, sizeof(sink)) > 0)
                ;
            break;
        }
    close(fds[0]);
    msg[len] = '\0';
    msg[strcspn(msg, "\n")] = '\0';
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return err_set(e, ERR_INTERNAL, "%s: %s", argv[0], strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return err_set(e, ERR_UNAVAILABLE, "%s: not found (install it)", argv[0]);
    return err_set(e, ERR_INTERNAL, "%s failed: %s", argv[0], msg[0] ? msg : "no message");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT ? -1 : 0;
}

int backup_remove_tree(const char *path)
{
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT ? -1 : 0;
}

/* ---- the parts ------------------------------------------------------------ */

/* The database into dir: SQLite's online backup, or pg_dump.  Its manifest entry into m. */
static int stage_database(const char *url, const char *dump_url, const char *dir, json_t *m,
                          struct err *e)
{
    char *path;
    int rc;

    if (strncmp(url, "sqlite:", 7) == 0) {
        path = xasprintf("%s/database.sqlite", dir);
        rc = store_sqlite_copy(url, path, e);
        json_object_set_new(m, "database",
                            json_pack("{s:s, s:s, s:s}", "kind", "sqlite", "file",
                                      "database.sqlite", "integrity_check", "ok"));
    } else {
        char *dbname = xasprintf("--dbname=%s", dump_url != NULL ? dump_url : url);
        path = xasprintf("%s/database.pgdump", dir);
        char *argv[] = {"pg_dump", "--format=custom", "--no-owner", "--file", path, dbname, NULL};
        if ((rc = backup_run(argv, NULL, e)) != 0 && strstr(e->msg, "row-level security") != NULL)
            err_set(e, ERR_USAGE,
                    "pg_dump: the database's role cannot read every tenant's rows (row-level "
                    "security): name a role with BYPASSRLS with --database URL (scheduled: "
                    "backup_database)");
        free(dbname);
        if (rc == 0) {
            char *list[] = {"pg_restore", "--list", path, NULL};
            rc = backup_run(list, NULL, e); /* the dump reads back */
        }
        json_object_set_new(
            m, "database",
            json_pack("{s:s, s:s}", "kind", "postgresql", "file", "database.pgdump"));
    }
    free(path);
    return rc;
}

/* Whether setting name's path belongs in a backup of cfg. */
static int path_backed_up(const struct config *cfg, const char *name)
{
    int soft = strcmp(cfg->keystore_type, "soft") == 0;

    if (strcmp(name, "pkcs11_module") == 0 || strcmp(name, "backup_dir") == 0)
        return 0;
    if (strcmp(name, "keystore") == 0 || strcmp(name, "kek_file") == 0)
        return soft;
    return 1;
}

/*
 * Copies each path setting's file or directory that exists into dir/files/
 * (cp -a: modes kept), listed in m's "files".
 */
static int stage_files(const struct config *cfg, const char *dir, json_t *m, struct err *e)
{
    const char *names[64], *values[64];
    int n = config_paths(cfg, names, values, 64), rc = 0;
    json_t *files = json_array();
    char *fdir = xasprintf("%s/files", dir);

    if (mkdir(fdir, 0700) != 0)
        rc = err_set(e, ERR_INTERNAL, "%s: %s", fdir, strerror(errno));
    for (int i = 0; rc == 0 && i < n; i++) {
        struct stat st;
        char *dest;
        if (!path_backed_up(cfg, names[i]) || stat(values[i], &st) != 0)
            continue;
        dest = xasprintf("%s/%s", fdir, names[i]);
        char *argv[] = {"cp", "-a", "--", (char *)values[i], dest, NULL};
        rc = backup_run(argv, NULL, e);
        json_array_append_new(files,
                              json_pack("{s:s, s:s, s:o, s:s}", "setting", names[i], "path",
                                        values[i], "member", json_sprintf("files/%s", names[i]),
                                        "type", S_ISDIR(st.st_mode) ? "directory" : "file"));
        free(dest);
    }
    json_object_set_new(m, "files", files);
    free(fdir);
    return rc;
}

/* What the manifest says of the keys. */
static void manifest_keys(const struct config *cfg, json_t *m)
{
    if (strcmp(cfg->keystore_type, "soft") == 0)
        json_object_set_new(m, "keys",
                            json_pack("{s:s, s:b, s:s}", "keystore_type", "soft", "included", 1,
                                      "note",
                                      "the software key store (files/keystore, with its *.meta "
                                      "purpose files) and its key-encryption secret "
                                      "(files/kek_file)"));
    else
        json_object_set_new(
            m, "keys",
            json_pack("{s:s, s:b, s:s?, s:s}", "keystore_type", "pkcs11", "included", 0, "token",
                      cfg->pkcs11_token_label, "note",
                      "the keys are in the PKCS#11 token and NOT in this backup: back the token "
                      "up with the HSM's own tools"));
}

static int manifest_write(json_t *m, const char *dir, struct err *e)
{
    char *path = xasprintf("%s/manifest.json", dir);
    int rc = json_dump_file(m, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);

    free(path);
    return rc == 0 ? 0 : err_set(e, ERR_INTERNAL, "manifest: cannot be written");
}

/* 1 if the files a and b hold the same bytes, 0 if not, -1 if one cannot be read. */
static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    char x[8192], y[8192];
    size_t na, nb;
    int eq = -1;

    if (fa != NULL && fb != NULL) {
        do {
            na = fread(x, 1, sizeof(x), fa);
            nb = fread(y, 1, sizeof(y), fb);
        } while (na == nb && na > 0 && memcmp(x, y, na) == 0);
        eq = na == nb && na == 0 && !ferror(fa) && !ferror(fb);
    }
    if (fa != NULL)
        fclose(fa);
    if (fb != NULL)
        fclose(fb);
    return eq;
}

/* The archive of dir/content lists, and holds the manifest and the database. */
static int archive_check(const char *tar, const char *listing, struct err *e)
{
    char *argv[] = {"tar", "--list", "--file", (char *)tar, NULL};
    char line[1024];
    int manifest = 0, db = 0;
    FILE *f;

    if (backup_run(argv, listing, e) != 0)
        return -1;
    if ((f = fopen(listing, "r")) == NULL)
        return err_set(e, ERR_INTERNAL, "%s: %s", listing, strerror(errno));
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        manifest |= strcmp(line, "./manifest.json") == 0;
        db |= strncmp(line, "./database.", 11) == 0;
    }
    fclose(f);
    if (!manifest || !db)
        return err_set(e, ERR_INTERNAL, "%s: the archive lacks its %s", tar,
                       manifest ? "database" : "manifest");
    return 0;
}

/* Encrypts tar to r's recipients into partial; with an identity, decrypts it back and compares. */
static int encrypt_verify(const struct backup_request *r, const char *stage, const char *tar,
                          const char *partial, struct err *e)
{
    char **argv = xcalloc((size_t)r->nrecipients * 2 + 6, sizeof(*argv));
    char *back;
    int n = 0, rc;

    argv[n++] = "age";
    argv[n++] = "--encrypt";
    for (int i = 0; i < r->nrecipients; i++) {
        argv[n++] = "--recipient";
        argv[n++] = (char *)r->recipients[i];
    }
    argv[n++] = "--output";
    argv[n++] = (char *)partial;
    argv[n++] = (char *)tar;
    rc = backup_run(argv, NULL, e);
    free(argv);
    if (rc != 0 || r->verify_identity == NULL)
        return rc;
    back = xasprintf("%s/verify.tar", stage);
    char *dec[] = {"age",      "--decrypt", "--identity",    (char *)r->verify_identity,
                   "--output", back,        (char *)partial, NULL};
    if ((rc = backup_run(dec, NULL, e)) == 0 && files_equal(tar, back) != 1)
        rc = err_set(e, ERR_INTERNAL, "%s: decrypted, it does not match what was written", r->out);
    free(back);
    return rc;
}

static char *time_stamp(int64_t t, const char *fmt)
{
    char buf[64];
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), fmt, &tm);
    return xstrdup(buf);
}

/* Everything into stage/content, packed into stage/backup.tar and checked. */
static int stage_all(const struct backup_request *r, const char *stage, struct err *e)
{
    char *content = xasprintf("%s/content", stage), *conf = NULL, *tar = NULL, *listing = NULL;
    char *created = time_stamp(time_now(), "%Y-%m-%dT%H:%M:%SZ");
    json_t *m =
        json_pack("{s:s, s:i, s:s}", "format", "vouch-backup", "version", 1, "created", created);
    int rc = -1;

    if (mkdir(content, 0700) != 0) {
        err_set(e, ERR_INTERNAL, "%s: %s", content, strerror(errno));
        goto out;
    }
    conf = xasprintf("%s/vouchd.conf", content);
    char *cp[] = {"cp", "--", (char *)r->config_path, conf, NULL};
    /* The database first, then the key store: every key a row of the copy names is there. */
    if (stage_database(r->cfg->database, r->dump_url, content, m, e) != 0 ||
        backup_run(cp, NULL, e) != 0 || stage_files(r->cfg, content, m, e) != 0)
        goto out;
    manifest_keys(r->cfg, m);
    json_object_set_new(m, "config", json_string("vouchd.conf"));
    if (manifest_write(m, content, e) != 0)
        goto out;
    tar = xasprintf("%s/backup.tar", stage);
    listing = xasprintf("%s/listing", stage);
    char *pack[] = {"tar", "--create", "--file", tar, "--directory", content, ".", NULL};
    if (backup_run(pack, NULL, e) == 0 && archive_check(tar, listing, e) == 0)
        rc = 0;
out:
    json_decref(m);
    free(created);
    free(content);
    free(conf);
    free(tar);
    free(listing);
    return rc;
}

int backup_make(const struct backup_request *r, struct err *e)
{
    char *dir = xstrdup(r->out), *slash = strrchr(dir, '/'), *stage, *partial, *tar;
    int rc = -1;

    if (r->nrecipients < 1) {
        free(dir);
        return err_set(e, ERR_USAGE, "backup: at least one age recipient is needed");
    }
    if (slash != NULL)
        slash[slash == dir ? 1 : 0] = '\0';
    stage = xasprintf("%s/.vouch-backup-XXXXXX", slash != NULL ? dir : ".");
    partial = xasprintf("%s.partial", r->out);
    tar = NULL;
    if (mkdtemp(stage) == NULL) {
        err_set(e, ERR_INTERNAL, "%s: %s", stage, strerror(errno));
        free(dir);
        free(stage);
        free(partial);
        return -1;
    }
    tar = xasprintf("%s/backup.tar", stage);
    if (stage_all(r, stage, e) == 0 && encrypt_verify(r, stage, tar, partial, e) == 0) {
        if (rename(partial, r->out) == 0)
            rc = 0;
        else
            err_set(e, ERR_INTERNAL, "%s: %s", r->out, strerror(errno));
    }
    if (rc != 0)
        unlink(partial);
    if (backup_remove_tree(stage) != 0)
        log_warn("backup: %s not removed: %s", stage, strerror(errno));
    free(tar);
    free(dir);
    free(stage);
    free(partial);
    return rc;
}

/* ---- audit, schedule, retention ------------------------------------------ */

int backup_audit(struct store *store, const char *by, const char *file, const struct err *failed,
                 struct err *e)
{
    json_t *d = json_pack("{s:s, s:s, s:I}", "by", by, "file", file, "uid", (json_int_t)getuid());
    char *detail;
    int rc;

    if (failed != NULL)
        json_object_set_new(d, "error", json_string(failed->msg));
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    struct audit_event ev = {.actor = strcmp(by, "scheduler") == 0 ? "vouchd" : "vouchd backup",
                             .action = "backup.create",
                             .object = file,
                             .result = failed ? "error" : "ok",
                             .detail = detail};
    rc = audit_record(store, "_system", &ev, e);
    free(detail);
    json_decref(d);
    return rc;
}

static int name_is_backup(const char *name)
{
    size_t n = strlen(name), p = strlen(BACKUP_PREFIX), s = strlen(BACKUP_SUFFIX);

    return n > p + s && strncmp(name, BACKUP_PREFIX, p) == 0 &&
           strcmp(name + n - s, BACKUP_SUFFIX) == 0;
}

static int name_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes the oldest backups of dir past keep (names sort by time). */
static void retention_apply(const char *dir, int keep)
{
    DIR *h = opendir(dir);
    struct dirent *d;
    char **names = NULL;
    size_t n = 0, cap = 0;

    if (h == NULL)
        return;
    while ((d = readdir(h)) != NULL)
        if (name_is_backup(d->d_name)) {
            if (n == cap)
                names = xrealloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
            names[n++] = xstrdup(d->d_name);
        }
    closedir(h);
    qsort(names, n, sizeof(*names), name_compare);
    for (size_t i = 0; i < n; i++) {
        if (n - i > (size_t)keep) {
            char *path = xasprintf("%s/%s", dir, names[i]);
            if (unlink(path) == 0)
                log_info("backup: %s removed (backup_keep %d)", path, keep);
            free(path);
        }
        free(names[i]);
    }
    free(names);
}

int64_t backup_next_due(const char *dir, int interval_hours)
{
    DIR *h = opendir(dir);
    struct dirent *d;
    int64_t newest = -1;

    if (h == NULL)
        return time_now();
    while ((d = readdir(h)) != NULL) {
        struct stat st;
        char *path;
        if (!name_is_backup(d->d_name))
            continue;
        path = xasprintf("%s/%s", dir, d->d_name);
        if (stat(path, &st) == 0 && (int64_t)st.st_mtime > newest)
            newest = (int64_t)st.st_mtime;
        free(path);
    }
    closedir(h);
    return newest < 0 ? time_now() : newest + (int64_t)interval_hours * 3600;
}

/* Splits a comma-separated list into trimmed words (caller frees each and the array). */
static int recipients_split(const char *list, char ***out)
{
    char *copy = xstrdup(list), *save = NULL, *w;
    char **v = NULL;
    int n = 0;

    for (w = strtok_r(copy, ", \t", &save); w != NULL; w = strtok_r(NULL, ", \t", &save)) {
        v = xrealloc(v, (size_t)(n + 1) * sizeof(*v));
        v[n++] = xstrdup(w);
    }
    free(copy);
    *out = v;
    return n;
}

int backup_scheduled(const struct config *cfg, const char *config_path, struct store *store,
                     struct err *e)
{
    char *stamp = time_stamp(time_now(), "%Y%m%dT%H%M%SZ");
    char *out = xasprintf("%s/" BACKUP_PREFIX "%s" BACKUP_SUFFIX, cfg->backup_dir, stamp);
    char **recipients = NULL;
    int n = recipients_split(cfg->backup_recipients, &recipients), rc;
    struct backup_request r = {.cfg = cfg,
                               .config_path = config_path,
                               .out = out,
                               .recipients = (const char *const *)recipients,
                               .nrecipients = n,
                               .dump_url = cfg->backup_database};
    struct err ae;

    mkdir_p(cfg->backup_dir, 0700);
    rc = backup_make(&r, e);
    if (backup_audit(store, "scheduler", out, rc == 0 ? NULL : e, &ae) != 0)
        log_error("audit: backup not recorded: %s", ae.msg);
    if (rc == 0) {
        log_info("backup: %s written", out);
        retention_apply(cfg->backup_dir, cfg->backup_keep);
    }
    for (int i = 0; i < n; i++)
        free(recipients[i]);
    free(recipients);
    free(stamp);
    free(out);
    return rc;
}

/* ---- the command ---------------------------------------------------------- */

static int backup_usage(void)
{
    fprintf(stderr, "usage: vouchd backup [-c FILE] --out FILE --recipient AGE_RECIPIENT "
                    "[--recipient ...] [--verify-identity FILE] [--database URL]\n");
    return 2;
}

int daemon_backup(int argc, char **argv)
{
    const char *path = "vouchd.conf", **recipients = xcalloc((size_t)argc, sizeof(char *));
    struct backup_request r = {0};
    struct config cfg;
    struct store *store = NULL;
    struct err e, ae;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            free(recipients);
            return backup_usage();
        }
        if (strcmp(argv[i], "-c") == 0)
            path = argv[++i];
        else if (strcmp(argv[i], "--out") == 0)
            r.out = argv[++i];
        else if (strcmp(argv[i], "--recipient") == 0)
            recipients[r.nrecipients++] = argv[++i];
        else if (strcmp(argv[i], "--verify-identity") == 0)
            r.verify_identity = argv[++i];
        else if (strcmp(argv[i], "--database") == 0)
            r.dump_url = argv[++i];
        else {
            free(recipients);
            return backup_usage();
        }
    }
    if (r.out == NULL || r.nrecipients == 0) {
        free(recipients);
        return backup_usage();
    }
    r.recipients = recipients;
    r.config_path = path;
    r.cfg = &cfg;
    config_defaults(&cfg);
    if (config_load(&cfg, path, &e) != 0 || config_check(&cfg, &e) != 0) {
        fprintf(stderr, "vouchd backup: %s\n", e.msg);
        goto out;
    }
    if ((store = store_open(cfg.database, &e)) == NULL) {
        fprintf(stderr, "vouchd backup: %s\n", e.msg);
        goto out;
    }
    if (r.dump_url == NULL)
        r.dump_url = cfg.backup_database;
    rc = backup_make(&r, &e) == 0 ? 0 : 1;
    if (backup_audit(store, "command", r.out, rc == 0 ? NULL : &e, &ae) != 0)
        fprintf(stderr, "vouchd backup: audit: %s\n", ae.msg);
    if (rc != 0)
        fprintf(stderr, "vouchd backup: %s\n", e.msg);
    else
        printf("%s: backup written%s\n", r.out,
               r.verify_identity ? ", decrypted and compared" : "");
out:
    store_close(store);
    config_free(&cfg);
    free(recipients);
    return rc;
}
