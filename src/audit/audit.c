/*
 * audit.c — the per-tenant hash chain (see audit.h).
 *
 * The hash of a row is SHA-256, in lowercase hex, over this canonical byte
 * string.  It is the contract `vouch audit verify` relies on: never change it;
 * a new encoding needs a new version tag (and verification of both).
 *
 *   "vouch-audit-v1\n"
 *   then, for each of tenant, seq, time, actor, action, object, result,
 *   detail, prev_hash, in that order:
 *       <byte length as decimal ASCII> ":" <the bytes> "\n"
 *
 * seq and time are written as decimal text (an optional '-' and digits, no
 * leading zeros or '+'); the text fields as their UTF-8 bytes, exactly as
 * stored.  Example field: "5:alice\n".  Because every field carries its length,
 * no two different rows share a byte string, whatever bytes the fields hold.
 * The first row of a chain has prev_hash "0" x 64.
 */
#include "audit/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define TAG     "vouch-audit-v1\n"
#define PAGE    1000

/* A broken SHA-256 means nothing can be audited or verified: stop. */
static void digest(EVP_MD_CTX *md, const void *data, size_t len)
{
    if (EVP_DigestUpdate(md, data, len) != 1)
        abort();
}

static void field(EVP_MD_CTX *md, const char *value)
{
    char len[32];
    size_t n = strlen(value);

    snprintf(len, sizeof(len), "%zu:", n);
    digest(md, len, strlen(len));
    digest(md, value, n);
    digest(md, "\n", 1);
}

static void field_int(EVP_MD_CTX *md, int64_t value)
{
    char text[32];

    snprintf(text, sizeof(text), "%" PRId64, value);
    field(md, text);
}

/* A NULL text field (only a damaged row has one) hashes as "". */
#define TEXT(s) ((s) != NULL ? (s) : "")

char *audit_hash(const struct audit_rec *r)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort();
    digest(md, TAG, strlen(TAG));
    field(md, TEXT(r->tenant));
    field_int(md, r->seq);
    field_int(md, r->time);
    field(md, TEXT(r->actor));
    field(md, TEXT(r->action));
    field(md, TEXT(r->object));
    field(md, TEXT(r->result));
    field(md, TEXT(r->detail));
    field(md, TEXT(r->prev_hash));
    if (EVP_DigestFinal_ex(md, out, &len) != 1)
        abort();
    EVP_MD_CTX_free(md);
    return hex_encode(out, len);
}

/*
 * Reads the tenant's last row inside tx (its write lock keeps it the last),
 * chains the event after it and inserts it.  NULL actor is "system", NULL
 * result "ok", NULL object "", NULL detail "{}"; an action is required.
 */
int audit_append(struct store_tx *tx, const char *tenant, const struct audit_event *ev,
                 struct err *e)
{
    struct audit_rec *last = NULL, r;
    struct err le;
    int rc = -1;

    if (ev == NULL || ev->action == NULL || *ev->action == '\0')
        return err_set(e, ERR_INTERNAL, "audit: an event needs an action");
    err_clear(&le);
    if (store_audit_last(tx, tenant, &last, &le) != 0 && le.kind != ERR_NOT_FOUND) {
        if (e != NULL)
            *e = le;
        return -1;
    }
    memset(&r, 0, sizeof(r));
    r.tenant = (char *)tenant;
    r.seq = last != NULL ? last->seq + 1 : 1;
    r.time = time_now();
    r.actor = (char *)(ev->actor != NULL ? ev->actor : "system");
    r.action = (char *)ev->action;
    r.object = (char *)(ev->object != NULL ? ev->object : "");
    r.result = (char *)(ev->result != NULL ? ev->result : "ok");
    r.detail = (char *)(ev->detail != NULL ? ev->detail : "{}");
    r.prev_hash = last != NULL && last->hash != NULL ? last->hash : GENESIS;
    r.hash = audit_hash(&r);
    rc = store_audit_insert(tx, tenant, &r, e);
    free(r.hash);
    audit_rec_free(last);
    return rc;
}

int audit_record(struct store *s, const char *tenant, const struct audit_event *ev, struct err *e)
{
    struct store_tx *tx = store_begin(s, e);

    if (tx == NULL)
        return -1;
    if (audit_append(tx, tenant, ev, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}

/* A row whose every field is present (NOT NULL in the schema; only tampering removes one). */
static int row_complete(const struct audit_rec *r)
{
    return r->tenant != NULL && r->actor != NULL && r->action != NULL && r->object != NULL &&
           r->result != NULL && r->detail != NULL && r->prev_hash != NULL && r->hash != NULL;
}

/*
 * Checks row r, which must be number want_seq and follow a row hashing to
 * prev_hash.  0 if it verifies; -1 with why[] naming the first thing wrong.
 */
static int row_check(const struct audit_rec *r, int64_t want_seq, const char *prev_hash, char *why,
                     size_t why_len)
{
    char *h;
    int bad;

    if (r->seq != want_seq) {
        snprintf(why, why_len,
                 "row %" PRId64 ": expected seq %" PRId64 " (row removed or reordered)", r->seq,
                 want_seq);
        return -1;
    }
    if (!row_complete(r)) {
        snprintf(why, why_len, "row %" PRId64 ": a field is NULL (row edited)", r->seq);
        return -1;
    }
    if (strcmp(r->prev_hash, prev_hash) != 0) {
        if (want_seq == 1)
            snprintf(why, why_len, "row 1: prev_hash is not the chain's start (64 zeros)");
        else
            snprintf(why, why_len, "row %" PRId64 ": prev_hash does not match row %" PRId64, r->seq,
                     r->seq - 1);
        return -1;
    }
    h = audit_hash(r);
    bad = strcmp(h, r->hash) != 0;
    free(h);
    if (bad) {
        snprintf(why, why_len, "row %" PRId64 ": hash mismatch (row edited)", r->seq);
        return -1;
    }
    return 0;
}

/*
 * Walks the chain in seq order, a page at a time, in one read transaction (one
 * snapshot).  Rows with any seq are read (even 0 or negative ones, which no
 * append writes), so a row slipped in before the first is caught too.
 */
int audit_verify(struct store *s, const char *tenant, int64_t *count, int64_t *bad_seq, char *why,
                 size_t why_len, struct err *e)
{
    struct store_tx *tx = store_begin_read(s, e);
    struct audit_rec **rows = NULL;
    char prev[sizeof(GENESIS)] = GENESIS, reason[256] = "";
    int64_t want = 1, after = INT64_MIN, checked = 0, bad = 0;
    size_t n = 0;
    int rc = -1, broken = 0;

    if (tx == NULL)
        return -1;
    for (;;) {
        if (store_audit_list(tx, tenant, after, PAGE, &rows, &n, e) != 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            if (row_check(rows[i], want, prev, reason, sizeof(reason)) != 0) {
                bad = rows[i]->seq;
                broken = 1;
                break;
            }
            /* A verified row's hash is its recomputed SHA-256: 64 hex digits. */
            snprintf(prev, sizeof(prev), "%s", rows[i]->hash);
            after = rows[i]->seq;
            want++;
            checked++;
        }
        audit_rec_list_free(rows, n);
        if (broken || n < PAGE)
            break;
    }
    *count = checked;
    if (broken)
        *bad_seq = bad;
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "%s", reason);
    rc = broken;
out:
    store_rollback(tx);
    return rc;
}
