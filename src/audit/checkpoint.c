/* checkpoint.c — checkpoint signatures and offline verification (see checkpoint.h). */
#include "audit/checkpoint.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "audit/audit.h"
#include "keys/tbs.h"
#include "lib/util.h"

#define GENESIS        "0000000000000000000000000000000000000000000000000000000000000000"
#define LINE_MAX_BYTES (1024 * 1024)

int audit_checkpoint_check(EVP_PKEY *pub, const char *tenant, int64_t seq, const char *head_hash,
                           const unsigned char *der, size_t der_len, const unsigned char *sig,
                           size_t sig_len, char *why, size_t why_len)
{
    unsigned char hash[32];
    char *t = NULL, *hex = NULL;
    int64_t s = 0, when = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = 0;

    if (tbs_checkpoint_decode(der, der_len, &t, &s, hash, &when) != 0)
        snprintf(why, why_len, "checkpoint %" PRId64 ": not an AuditCheckpoint", seq);
    else if (strcmp(t, tenant) != 0 || s != seq ||
             strcmp((hex = hex_encode(hash, 32)), head_hash != NULL ? head_hash : "") != 0)
        snprintf(why, why_len, "checkpoint %" PRId64 ": signed fields differ from the record", seq);
    else if (md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1 ||
             EVP_DigestVerify(md, sig, sig_len, der, der_len) != 1)
        snprintf(why, why_len, "checkpoint %" PRId64 ": bad signature", seq);
    else
        ok = 1;
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    free(t);
    free(hex);
    return ok ? 0 : -1;
}

/* ---- offline verification ------------------------------------------------- */

struct file_state {
    struct audit_file_verdict *v;
    EVP_PKEY *pub;
    int64_t last_seq;                /* the last event verified */
    char last_hash[sizeof(GENESIS)]; /* its hash (GENESIS before the first) */
    int64_t *pending;                /* checkpoint seqs beyond the last event, with hashes */
    char (*pending_hash)[sizeof(GENESIS)];
    size_t npending;
};

static void file_bad(struct audit_file_verdict *v, int64_t seq, const char *why)
{
    if (v->ok || seq < v->bad_seq) {
        v->ok = 0;
        v->bad_seq = seq;
        snprintf(v->reason, sizeof(v->reason), "%s", why);
    }
}

static const char *str_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

/* One event line: it must be the next row and hash right. */
static void file_event(struct file_state *st, json_t *o)
{
    struct audit_rec r;
    char why[256];
    char *h;

    if (!st->v->ok)
        return; /* rows after the first bad one prove nothing */
    memset(&r, 0, sizeof(r));
    r.tenant = (char *)str_of(o, "tenant");
    r.seq = json_integer_value(json_object_get(o, "seq"));
    r.time = json_integer_value(json_object_get(o, "time"));
    r.actor = (char *)str_of(o, "actor");
    r.action = (char *)str_of(o, "action");
    r.object = (char *)str_of(o, "object");
    r.result = (char *)str_of(o, "result");
    r.detail = (char *)str_of(o, "detail");
    r.prev_hash = (char *)str_of(o, "prev_hash");
    r.hash = (char *)str_of(o, "hash");
    h = audit_hash(&r);
    if (r.seq != st->last_seq + 1)
        snprintf(why, sizeof(why),
                 "row %" PRId64 ": expected seq %" PRId64 " (row removed or reordered)", r.seq,
                 st->last_seq + 1);
    else if (strcmp(r.tenant, st->v->tenant) != 0)
        snprintf(why, sizeof(why), "row %" PRId64 ": another tenant's row", r.seq);
    else if (strcmp(r.prev_hash, st->last_hash) != 0)
        snprintf(why, sizeof(why), "row %" PRId64 ": prev_hash does not match the row before",
                 r.seq);
    else if (strcmp(h, r.hash) != 0)
        snprintf(why, sizeof(why), "row %" PRId64 ": hash mismatch (row edited)", r.seq);
    else
        why[0] = '\0';
    free(h);
    if (why[0] != '\0') {
        file_bad(st->v, st->last_seq + 1, why);
        return;
    }
    st->last_seq = r.seq;
    snprintf(st->last_hash, sizeof(st->last_hash), "%s", r.hash);
    st->v->count++;
    for (size_t i = 0; i < st->npending; i++)
        if (st->pending[i] == r.seq && strcmp(st->pending_hash[i], r.hash) != 0) {
            snprintf(why, sizeof(why), "rows up to %" PRId64 ": changed since that checkpoint",
                     r.seq);
            file_bad(st->v, r.seq, why);
        }
}

/* A checkpoint line: its signature, then the event it signs (now or later in the file). */
static void file_checkpoint(struct file_state *st, json_t *o)
{
    int64_t seq = json_integer_value(json_object_get(o, "seq"));
    const char *head = str_of(o, "head_hash");
    size_t der_len = 0, sig_len = 0;
    unsigned char *der = base64_decode(str_of(o, "der"), &der_len);
    unsigned char *sig = base64_decode(str_of(o, "signature"), &sig_len);
    char why[256];

    if (st->pub == NULL)
        file_bad(st->v, seq, "a checkpoint, but the export has no audit public key");
    else if (der == NULL || sig == NULL ||
             audit_checkpoint_check(st->pub, st->v->tenant, seq, head, der, der_len, sig, sig_len,
                                    why, sizeof(why)) != 0)
        file_bad(st->v, seq, der == NULL || sig == NULL ? "checkpoint: bad base64" : why);
    else if (seq == st->last_seq && strcmp(head, st->last_hash) != 0) {
        snprintf(why, sizeof(why), "rows up to %" PRId64 ": changed since that checkpoint", seq);
        file_bad(st->v, seq, why);
    } else if (seq > st->last_seq) {
        st->pending = xrealloc(st->pending, (st->npending + 1) * sizeof(*st->pending));
        st->pending_hash =
            xrealloc(st->pending_hash, (st->npending + 1) * sizeof(*st->pending_hash));
        st->pending[st->npending] = seq;
        snprintf(st->pending_hash[st->npending++], sizeof(*st->pending_hash), "%s", head);
    }
    st->v->checkpoints++;
    free(der);
    free(sig);
}

/* The first line: the tenant and its audit public key (null before any checkpoint). */
static int file_key(struct file_state *st, json_t *o)
{
    const char *pem = json_string_value(json_object_get(o, "public_key"));
    BIO *b;

    if (strcmp(str_of(o, "type"), "audit-key") != 0)
        return -1;
    snprintf(st->v->tenant, sizeof(st->v->tenant), "%s", str_of(o, "tenant"));
    if (pem == NULL)
        return 0;
    b = BIO_new_mem_buf(pem, -1);
    st->pub = b != NULL ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return st->pub != NULL ? 0 : -1;
}

int audit_file_verify(FILE *in, struct audit_file_verdict *v)
{
    struct file_state st = {.v = v, .last_hash = GENESIS};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lines = 0, rc = 0;

    memset(v, 0, sizeof(*v));
    v->ok = 1;
    while (rc == 0 && (n = getline(&line, &cap, in)) > 0) {
        json_t *o = n < LINE_MAX_BYTES ? json_loads(line, 0, NULL) : NULL;
        const char *type = str_of(o, "type");
        if (o == NULL || (lines++ == 0 && file_key(&st, o) != 0)) {
            snprintf(v->reason, sizeof(v->reason), "line %d: not an audit export line", lines);
            rc = -1;
        } else if (strcmp(type, "event") == 0) {
            file_event(&st, o);
        } else if (strcmp(type, "checkpoint") == 0) {
            file_checkpoint(&st, o);
        }
        json_decref(o);
    }
    if (rc == 0 && lines == 0) {
        snprintf(v->reason, sizeof(v->reason), "empty file");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < st.npending; i++)
        if (st.pending[i] > st.last_seq) {
            char why[256];
            snprintf(why, sizeof(why),
                     "row %" PRId64 ": missing, but checkpoint %" PRId64
                     " signed it (rows removed)",
                     st.last_seq + 1, st.pending[i]);
            file_bad(v, st.last_seq + 1, why);
        }
    free(st.pending);
    free(st.pending_hash);
    EVP_PKEY_free(st.pub);
    free(line);
    return rc;
}
