/*
 * api_audit.c — the audit routes an auditor uses: verification with the
 * signed checkpoints, the checkpoints with their public key, an on-demand
 * checkpoint, and the export as JSON lines.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

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

/* A checkpoint as exported: the signed DER and signature in base64. */
static json_t *checkpoint_json(const struct audit_checkpoint_rec *c)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:o}", "type", "checkpoint", "tenant",
                     c->tenant, "seq", (json_int_t)c->seq, "time", (json_int_t)c->time, "head_hash",
                     c->head_hash, "key_id", c->key_id, "der", b64(c->der, c->der_len), "signature",
                     b64(c->sig, c->sig_len));
}

/*
 * An event as exported: every hashed field exactly as stored (time as the
 * integer and detail as the text that were hashed), so the file verifies
 * without the server.
 */
static json_t *event_json(const struct audit_rec *r)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "event",
                     "tenant", r->tenant, "seq", (json_int_t)r->seq, "time", (json_int_t)r->time,
                     "actor", r->actor, "action", r->action, "object", r->object, "result",
                     r->result, "detail", r->detail, "prev_hash", r->prev_hash, "hash", r->hash);
}

static json_t *key_json(const struct audit_key_rec *k)
{
    if (k == NULL)
        return json_pack("{s:s, s:n}", "type", "audit-key", "public_key");
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "audit-key", "tenant", k->tenant,
                     "key_id", k->key_id, "key_type", k->key_type, "public_key", k->public_pem,
                     "checkpoint_oid", TBS_AUDIT_CHECKPOINT_OID);
}

void api_audit_verify(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct svc_audit_verdict v;
    struct err e;
    json_t *o;

    if (svc_audit_verify(api->svc, api_tenant(req), &v, &e) != 0) {
        api_fail(api, req, resp, "audit.verify", NULL, &e);
        return;
    }
    o = json_pack("{s:b, s:I, s:I, s:I}", "ok", v.ok, "count", (json_int_t)v.count, "checkpoints",
                  (json_int_t)v.checkpoints, "last_checkpoint", (json_int_t)v.last_checkpoint);
    if (!v.ok) {
        json_object_set_new(o, "first_bad_seq", json_integer(v.bad_seq));
        json_object_set_new(o, "reason", json_string(v.reason));
    }
    http_respond_json(resp, 200, o);
}

/* POST .../audit/checkpoints: signs the chain head now. */
void api_audit_checkpoint(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    int64_t seq = 0;
    struct err e;

    if (svc_audit_checkpoint(api->svc, api_tenant(req), &seq, &e) != 0) {
        api_fail(api, req, resp, "audit.checkpoint", NULL, &e);
        return;
    }
    http_respond_json(resp, 200, json_pack("{s:I}", "seq", (json_int_t)seq));
}

/* Reads the audit key (NULL if none yet); -1 on a storage error, answered. */
static int key_read(struct api *api, struct http_request *req, struct http_response *resp,
                    struct audit_key_rec **key)
{
    struct err e;

    *key = NULL;
    if (svc_audit_key(api->svc, api_tenant(req), 0, key, &e) == 0 || e.status == 404)
        return 0;
    api_fail(api, req, resp, "audit.read", NULL, &e);
    return -1;
}

/* GET .../audit/checkpoints: the public key and the checkpoints (?after, ?limit). */
void api_audit_checkpoints(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct audit_checkpoint_rec **cps = NULL;
    struct audit_key_rec *key = NULL;
    struct store_tx *tx = NULL;
    int after = 0, limit = 1000;
    size_t n = 0;
    struct err e;
    json_t *o, *list;

    if (api_query_int(req, "after", 0, 2000000000, &after, &e) != 0 ||
        api_query_int(req, "limit", 1, 10000, &limit, &e) != 0 ||
        (tx = store_begin_read(api->store, &e)) == NULL ||
        store_audit_checkpoint_list(tx, api_tenant(req), after, limit, &cps, &n, &e) != 0) {
        store_rollback(tx);
        api_fail(api, req, resp, "audit.read", NULL, &e);
        return;
    }
    store_rollback(tx);
    if (key_read(api, req, resp, &key) != 0) {
        audit_checkpoint_rec_list_free(cps, n);
        return;
    }
    o = key_json(key);
    json_object_del(o, "type");
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = checkpoint_json(cps[i]);
        json_object_del(c, "type");
        json_array_append_new(list, c);
    }
    json_object_set_new(o, "checkpoints", list);
    audit_checkpoint_rec_list_free(cps, n);
    audit_key_rec_free(key);
    http_respond_json(resp, 200, o);
}

/*
 * GET .../audit/export: JSON lines — the audit key first, then the events
 * with seq > after (at most limit), each checkpoint right after the event it
 * signs (the last page: every later checkpoint too, so one whose rows were
 * removed still shows).  The next page starts after the last event's seq.
 */
void api_audit_export(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    struct audit_checkpoint_rec **cps = NULL;
    struct audit_rec **rows = NULL;
    struct audit_key_rec *key = NULL;
    struct store_tx *tx = NULL;
    int after = 0, limit = 10000;
    size_t n = 0, nc = 0, c = 0;
    struct buf out = {0};
    struct err e;

    if (api_query_int(req, "after", 0, 2000000000, &after, &e) != 0 ||
        api_query_int(req, "limit", 1, 100000, &limit, &e) != 0 ||
        (tx = store_begin_read(api->store, &e)) == NULL ||
        store_audit_list(tx, api_tenant(req), after, limit, &rows, &n, &e) != 0 ||
        store_audit_checkpoint_list(tx, api_tenant(req), after, 100000, &cps, &nc, &e) != 0) {
        store_rollback(tx);
        audit_rec_list_free(rows, n);
        api_fail(api, req, resp, "audit.read", NULL, &e);
        return;
    }
    store_rollback(tx);
    if (key_read(api, req, resp, &key) == 0) {
        json_line(&out, key_json(key));
        for (size_t i = 0; i < n; i++) {
            json_line(&out, event_json(rows[i]));
            for (; c < nc && cps[c]->seq <= rows[i]->seq; c++)
                json_line(&out, checkpoint_json(cps[c]));
        }
        /* The last page carries every later checkpoint: one whose rows are gone shows. */
        for (; n < (size_t)limit && c < nc; c++)
            json_line(&out, checkpoint_json(cps[c]));
        http_respond(resp, 200, "application/x-ndjson", out.data, out.len);
    }
    buf_free(&out);
    audit_rec_list_free(rows, n);
    audit_checkpoint_rec_list_free(cps, nc);
    audit_key_rec_free(key);
}
