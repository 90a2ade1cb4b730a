/*
 * store_copy.h — a consistent copy of a SQLite database while it serves, for
 * backups (daemon/backup.c).  PostgreSQL is copied with pg_dump instead.
 */
#ifndef VOUCH_STORE_COPY_H
#define VOUCH_STORE_COPY_H

#include "lib/util.h"

/*
 * Copies the SQLite database of url ("sqlite:PATH") to dest (a new file)
 * through SQLite's online backup API: a snapshot of one moment, taken in
 * steps so that writers are held back only briefly (a step that meets a
 * writer is tried again).  The copy then has to pass PRAGMA integrity_check.
 * 0, or -1 with e set (dest may be left behind: the caller removes it).
 */
int store_sqlite_copy(const char *url, const char *dest, struct err *e);

#endif
