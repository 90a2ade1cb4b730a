/* store_copy.c — SQLite's online backup into a new file (see store_copy.h). */
#include "store/store_copy.h"

#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define COPY_BUSY_MS 10000

/* "ok" from PRAGMA integrity_check on db, else -1 with e naming the first problem. */
static int integrity_check(sqlite3 *db, const char *dest, struct err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return err_set(e, ERR_INTERNAL, "%s: integrity check: %s", dest, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (r != NULL && strcmp(r, "ok") == 0)
            rc = 0;
        else
            err_set(e, ERR_INTERNAL, "%s: integrity check: %s", dest, r ? r : "no answer");
    } else {
        err_set(e, ERR_INTERNAL, "%s: integrity check: %s", dest, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * Runs the backup from src to dst in one step: one read transaction, so one
 * moment's snapshot (in WAL mode writers go on meanwhile; a step done in
 * pieces would start over at each write of another connection, and under
 * steady issuance might never end).  Busy (a checkpoint, a rollback journal's
 * writer) is waited out.  0 or -1 with e set.
 */
static int copy_steps(sqlite3 *src, sqlite3 *dst, const char *url, struct err *e)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    int rc;

    if (b == NULL)
        return err_set(e, ERR_INTERNAL, "%s: backup: %s", url, sqlite3_errmsg(dst));
    do {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            sqlite3_sleep(20);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return err_set(e, ERR_INTERNAL, "%s: backup: %s", url, sqlite3_errstr(rc));
    return 0;
}

int store_sqlite_copy(const char *url, const char *dest, struct err *e)
{
    const char *path = url + strlen("sqlite:");
    sqlite3 *src = NULL, *dst = NULL;
    int rc = -1;

    if (strncmp(url, "sqlite:", 7) != 0 || *path == '\0')
        return err_set(e, ERR_INVALID, "database %s: not a SQLite database", url);
    if (access(path, R_OK) != 0)
        return err_set(e, ERR_INVALID, "database %s: cannot be read", url);
    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        err_set(e, ERR_UNAVAILABLE, "%s: %s", url, src ? sqlite3_errmsg(src) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(src, COPY_BUSY_MS);
    if (sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        err_set(e, ERR_INTERNAL, "%s: %s", dest, dst ? sqlite3_errmsg(dst) : "cannot create");
        goto out;
    }
    if (copy_steps(src, dst, url, e) == 0 && integrity_check(dst, dest, e) == 0)
        rc = 0;
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    return rc;
}
