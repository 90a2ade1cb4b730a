/*
 * cli_offline.h — `vouch offline`: the offline CA on a local store, no server
 * (docs/offline.md).  Shared by cli_offline.c and cli_shamir.c only.
 */
#ifndef VOUCH_CLI_OFFLINE_H
#define VOUCH_CLI_OFFLINE_H

#include <stddef.h>

#include <jansson.h>

#include "cli/cli_internal.h"

/* Runs `vouch offline VERB ...` (argv[0] is "offline"); returns the exit code. */
int cli_offline_main(struct cli_ctx *ctx, int argc, char **argv);
/* Prints the usage lines of the offline commands. */
void cli_offline_usage(FILE *f);
/* The offline commands as a JSON array of {verb, usage} (caller owns it). */
json_t *cli_offline_json(void);

/* cli_shamir.c: the key-encryption secret and its custodian shares. */
#define OFFLINE_SECRET_LEN 32  /* the software store's key-encryption secret */
#define OFFLINE_SECRET_MAX 256 /* a token's PIN, split as it is */

int offline_secret_random(unsigned char *secret, size_t len, struct err *e);
/* Lowercase hex SHA-256 of the secret's text form (caller frees). */
char *offline_secret_digest(const char *text);
/*
 * Splits secret into n shares, any m of which recover it: files
 * "<prefix>-<x>.share" (mode 0600, never overwritten); shares gets
 * x -> SHA-256 of each share file's line.
 */
int offline_secret_split(const unsigned char *secret, size_t len, const char *source, int n, int m,
                         const char *prefix, json_t *shares, struct err *e);
/*
 * Recovers the secret (into secret, OFFLINE_SECRET_MAX bytes; *len set) from
 * the share files at paths (at least conf's "threshold"), each checked
 * against conf's "shares" digests, the result against "secret_sha256".  A
 * wrong share is named.
 */
int offline_secret_combine(const json_t *conf, const char *const *paths, int n,
                           unsigned char *secret, size_t *len, struct err *e);
/*
 * The text form of a secret (caller frees): hex for the software store's
 * random secret, the bytes themselves for a token PIN (conf "secret_form":
 * "text").
 */
char *offline_secret_text(const json_t *conf, const unsigned char *secret, size_t len);
/* Writes a secret text to a new file of mode 0600. */
int offline_secret_write(const char *path, const char *text, struct err *e);

#endif
