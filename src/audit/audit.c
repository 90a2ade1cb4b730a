/*
 * audit.c — the per-tenant hash chain (see audit.h).
 *
 * The hash of a row is SHA-256, in lowercase hex, over this canonical byte
 * string (the contract `vouch audit verify` relies on; never change it —
 * a new encoding needs a new version tag):
 *
 *   "vouch-audit-v1\n" then, for each of tenant, seq, time, actor, action,
 *   object, result, detail, prev_hash, in that order:  <decimal byte length>
 *   ":" <bytes> "\n"   (seq and time as decimal text)
 *
 * Length prefixes make the encoding unambiguous: no two different rows share
 * a byte string.  The first row of a chain has prev_hash of 64 '0's.
 */
#include "audit/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

static void field(EVP_MD_CTX *md, const char *value)
{
    char len[32];
    const char *v = value ? value : "";

    snprintf(len, sizeof(len), "%zu:", strlen(v));
    EVP_DigestUpdate(md, len, strlen(len));
    EVP_DigestUpdate(md, v, strlen(v));
    EVP_DigestUpdate(md, "\n", 1);
}

char *audit_hash(const struct audit_rec *r)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char seq[32], time[32];

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort(); /* SHA-256 missing means a broken library: nothing can be audited */
    snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
    snprintf(time, sizeof(time), "%" PRId64, r->time);
    EVP_DigestUpdate(md, "vouch-audit-v1\n", 15);
    field(md, r->tenant);
    field(md, seq);
    field(md, time);
    field(md, r->actor);
    field(md, r->action);
    field(md, r->object);
    field(md, r->result);
    field(md, r->detail);
    field(md, r->prev_hash);
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    return hex_encode(out, len);
}

int audit_append(struct store_tx *tx, const char *tenant, const struct audit_event *ev,
                 struct err *e)
{
    struct audit_rec *last = NULL, r;
    struct err le;
    int rc;

    memset(&r, 0, sizeof(r));
    if (store_audit_last(tx, tenant, &last, &le) != 0 && le.status != 404) {
        if (e)
            *e = le;
        return -1;
    }
    r.tenant = (char *)tenant;
    r.seq = last ? last->seq + 1 : 1;
    r.time = time_now();
    r.actor = (char *)(ev->actor ? ev->actor : "system");
    r.action = (char *)ev->action;
    r.object = (char *)(ev->object ? ev->object : "");
    r.result = (char *)(ev->result ? ev->result : "ok");
    r.detail = (char *)(ev->detail ? ev->detail : "{}");
    r.prev_hash = last ? last->hash : GENESIS;
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

/* Checks one row against its predecessor; 0 if it verifies, else why[] says what broke. */
static int row_check(const struct audit_rec *r, int64_t want_seq, const char *prev_hash, char *why,
                     size_t why_len)
{
    char *h;
    int bad;

    if (r->seq != want_seq) {
        snprintf(why, why_len,
                 "event %" PRId64 ": expected event %" PRId64
                 " (an event was removed or reordered)",
                 r->seq, want_seq);
        return -1;
    }
    if (strcmp(r->prev_hash, prev_hash) != 0) {
        snprintf(why, why_len,
                 "event %" PRId64 ": prev_hash does not match the hash of event %" PRId64
                 " (an event was removed, inserted or reordered)",
                 r->seq, r->seq - 1);
        return -1;
    }
    h = audit_hash(r);
    bad = strcmp(h, r->hash) != 0;
    free(h);
    if (bad) {
        snprintf(why, why_len, "event %" PRId64 ": hash mismatch (the event was edited)", r->seq);
        return -1;
    }
    return 0;
}

int audit_verify(struct store *s, const char *tenant, int64_t *count, int64_t *bad_seq, char *why,
                 size_t why_len, struct err *e)
{
    struct store_tx *tx = store_begin_read(s, e);
    char prev[65] = GENESIS;
    int64_t want = 1, after = 0;
    int result = 0;

    if (tx == NULL)
        return -1;
    *count = 0;
    while (result == 0) {
        struct audit_rec **rows = NULL;
        size_t n = 0;
        if (store_audit_list(tx, tenant, after, 1000, &rows, &n, e) != 0) {
            store_rollback(tx);
            return -1;
        }
        for (size_t i = 0; i < n && result == 0; i++) {
            if (row_check(rows[i], want, prev, why, why_len) != 0) {
                *bad_seq = rows[i]->seq;
                result = 1;
                break;
            }
            snprintf(prev, sizeof(prev), "%s", rows[i]->hash);
            want++;
            after = rows[i]->seq;
            (*count)++;
        }
        audit_rec_list_free(rows, n);
        if (n < 1000)
            break;
    }
    store_rollback(tx);
    return result;
}
