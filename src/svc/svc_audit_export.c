/*
 * svc_audit_export.c — a tenant's audit chain as JSON lines: the audit key
 * first, then the events, each checkpoint right after the event it signs.
 * Served by GET .../audit/export and written to a file before a deleted
 * tenant's data is purged (svc_tenant.c).  Every hashed field is exported
 * exactly as stored (time as the integer and detail as the text that were
 * hashed), so the file verifies without the server (`vouch audit verify`).
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keys/tbs.h"

/* Appends o as one compact JSON line to b (and drops the reference). */
static void json_line(struct buf *b, json_t *o)
{
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

    buf_append(b, line, strlen(line));
    buf_append(b, "\n", 1);
    free(line);
    json_decref(o);
}

static json_t *b64(const unsigned char *data, size_t len)
{
    char *text = base64_encode(data, len);
    json_t *s = json_string(text);

    free(text);
    return s;
}

json_t *svc_audit_checkpoint_json(const struct audit_checkpoint_rec *c)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:o}", "type", "checkpoint", "tenant",
                     c->tenant, "seq", (json_int_t)c->seq, "time", (json_int_t)c->time, "head_hash",
                     c->head_hash, "key_id", c->key_id, "der", b64(c->der, c->der_len), "signature",
                     b64(c->sig, c->sig_len));
}

static json_t *event_json(const struct audit_rec *r)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "event",
                     "tenant", r->tenant, "seq", (json_int_t)r->seq, "time", (json_int_t)r->time,
                     "actor", r->actor, "action", r->action, "object", r->object, "result",
                     r->result, "detail", r->detail, "prev_hash", r->prev_hash, "hash", r->hash);
}

json_t *svc_audit_key_json(const struct audit_key_rec *k)
{
    if (k == NULL)
        return json_pack("{s:s, s:n}", "type", "audit-key", "public_key");
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "audit-key", "tenant", k->tenant,
                     "key_id", k->key_id, "key_type", k->key_type, "public_key", k->public_pem,
                     "checkpoint_oid", TBS_AUDIT_CHECKPOINT_OID);
}

int svc_audit_export(struct svc *s, const char *tenant, int64_t after, int limit, int with_key,
                     struct buf *out, int64_t *last_seq, struct err *e)
{
    struct audit_checkpoint_rec **cps = NULL;
    struct audit_rec **rows = NULL;
    struct audit_key_rec *key = NULL;
    struct store_tx *tx;
    size_t n = 0, nc = 0, c = 0;
    int rc = -1;

    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    if (store_audit_list(tx, tenant, after, limit, &rows, &n, e) != 0 ||
        store_audit_checkpoint_list(tx, tenant, after, 100000, &cps, &nc, e) != 0)
        goto out;
    if (with_key && store_audit_key_get(tx, tenant, &key, e) != 0 && e->kind != ERR_NOT_FOUND)
        goto out;
    if (with_key)
        json_line(out, svc_audit_key_json(key));
    for (size_t i = 0; i < n; i++) {
        json_line(out, event_json(rows[i]));
        for (; c < nc && cps[c]->seq <= rows[i]->seq; c++)
            json_line(out, svc_audit_checkpoint_json(cps[c]));
    }
    /* The last page carries every later checkpoint: one whose rows are gone shows. */
    for (; n < (size_t)limit && c < nc; c++)
        json_line(out, svc_audit_checkpoint_json(cps[c]));
    *last_seq = n > 0 ? rows[n - 1]->seq : after;
    rc = (int)n;
out:
    store_rollback(tx);
    audit_rec_list_free(rows, n);
    audit_checkpoint_rec_list_free(cps, nc);
    audit_key_rec_free(key);
    return rc;
}
