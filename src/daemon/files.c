/*
 * files.c — the files of an installation that hold secrets, checked before
 * vouchd starts: key material, the key-encryption secret, PIN files, the API's
 * TLS key and the SQLite database (with its -wal and -shm) must be the
 * owner's alone.  vouchd makes every file 0600 and every directory 0700
 * itself (its umask); this check catches a file made or copied by hand.
 */
#include "daemon/config.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define KEYSTORE_DEPTH 2 /* keys/<tenant>/<key>.pem */

/* dir and what is in it, down to depth levels: the first one open to others fails. */
static int tree_check(const char *dir, const char *what, int depth, struct err *e)
{
    struct dirent *d;
    DIR *h;
    int rc;

    if ((rc = file_private_check(dir, what, e)) != 0 || depth == 0 || (h = opendir(dir)) == NULL)
        return rc;
    while (rc == 0 && (d = readdir(h)) != NULL) {
        char *path;

        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        path = xasprintf("%s/%s", dir, d->d_name);
        rc = tree_check(path, what, depth - 1, e);
        free(path);
    }
    closedir(h);
    return rc;
}

/* A SQLite database and the files SQLite keeps beside it. */
static int database_check(const char *url, struct err *e)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    int rc = 0;

    if (url == NULL || strncmp(url, "sqlite:", 7) != 0)
        return 0; /* PostgreSQL: the server's files are the server's */
    for (size_t i = 0; rc == 0 && i < ARRAY_LEN(suffixes); i++) {
        char *path = xasprintf("%s%s", url + 7, suffixes[i]);
        rc = file_private_check(path, "database", e);
        free(path);
    }
    return rc;
}

int config_files_check(const struct config *c, struct err *e)
{
    if (strcmp(c->keystore_type, "soft") == 0 &&
        (file_private_check(c->kek_file, "kek_file", e) != 0 ||
         tree_check(c->keystore, "keystore", KEYSTORE_DEPTH, e) != 0))
        return -1;
    if (c->pkcs11_pin_file != NULL && file_private_check(c->pkcs11_pin_file, "pkcs11_pin_file", e))
        return -1;
    if (c->smtp_password_file != NULL &&
        file_private_check(c->smtp_password_file, "smtp_password_file", e) != 0)
        return -1;
    if (c->pkcs11_tenant_pin_dir != NULL &&
        tree_check(c->pkcs11_tenant_pin_dir, "pkcs11_tenant_pin_dir", 1, e) != 0)
        return -1;
    if (c->tls_key != NULL && file_private_check(c->tls_key, "tls_key", e) != 0)
        return -1;
    return database_check(c->database, e);
}
