/*
 * backup.h — backups of a whole instance and their restore (backup.c,
 * restore.c).
 *
 * A backup is a tar archive encrypted with age to the operator's recipients:
 *   manifest.json     what is in it (and what is not: keys in a PKCS#11 token)
 *   vouchd.conf       the configuration file as it was
 *   database.sqlite   SQLite: the online backup API's copy, integrity-checked
 *   database.pgdump   or PostgreSQL: pg_dump's custom format
 *   files/<setting>   each path setting's file or directory: the software key
 *                     store (with its *.meta purpose files) and kek_file, the
 *                     API's TLS pair, the exports ... (not pkcs11_module, a
 *                     system library, nor backup_dir)
 * The database is copied before the key store: every key a row names is there.
 */
#ifndef VOUCH_BACKUP_H
#define VOUCH_BACKUP_H

#include "daemon/config.h"
#include "store/store.h"

struct backup_request {
    const struct config *cfg;
    const char *config_path;
    const char *out;               /* the file written (replaced only when complete) */
    const char *const *recipients; /* age recipients */
    int nrecipients;
    const char *verify_identity; /* NULL, or an age identity file: decrypted and compared */
    const char *dump_url;        /* PostgreSQL: pg_dump's URL (NULL: cfg->database) */
};

/*
 * Makes the backup r describes.  0, or -1 with e set and nothing at r->out
 * (a partial file is removed).  Runs tar and age (PATH); pg_dump for
 * PostgreSQL.  Safe in a threaded process (fork + exec only).
 */
int backup_make(const struct backup_request *r, struct err *e);

/*
 * Records a backup made or failed (by: "command" or "scheduler") in the
 * _system audit chain of store.  0 or -1 with e set.
 */
int backup_audit(struct store *store, const char *by, const char *file, const struct err *failed,
                 struct err *e);

/*
 * A scheduled backup into cfg->backup_dir named after the time, then the
 * oldest past cfg->backup_keep removed; audited in store.  0 or -1 with e set.
 */
int backup_scheduled(const struct config *cfg, const char *config_path, struct store *store,
                     struct err *e);

/*
 * When the next scheduled backup into dir is due: the newest backup's time
 * plus interval_hours, or now when there is none.
 */
int64_t backup_next_due(const char *dir, int interval_hours);

/*
 * `vouchd backup -c FILE --out FILE --recipient R [...] [--verify-identity FILE]
 * [--database URL]`: exit code.
 */
int daemon_backup(int argc, char **argv);

/* `vouchd restore --from FILE --identity FILE --to DIR [--database URL]`: exit code. */
int daemon_restore(int argc, char **argv);

/* ---- shared by backup.c and restore.c ---------------------------------- */

/*
 * Runs argv (argv[0] found in PATH) with no input, its output into out_path
 * (NULL: discarded).  0 if it exits 0, else -1 with e holding what it wrote
 * to its standard error (first line).
 */
int backup_run(char *const argv[], const char *out_path, struct err *e);
/* Removes path and all under it (not following links).  0 or -1. */
int backup_remove_tree(const char *path);

#endif
