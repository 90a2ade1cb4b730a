/*
 * store_data_cmp.c — the data calls of CMP (issue 18): endpoints, shared
 * secrets, transactions and used nonces; written once for both backends as
 * store_data.c's are (its header says how).
 */
#include "store/store_data.h"

#include <stdlib.h>
#include <string.h>

/* q_locked in a write transaction where the dialect has it, else q (store_data_acme.c). */
static enum query_id locked_in_write(struct store_tx *tx, enum query_id q_locked, enum query_id q)
{
    return TX(tx)->write && db_has(TX(tx), q_locked) ? q_locked : q;
}

/* The one record of query q named (endpoint, key) (parameters 2 and 3); ERR_NOT_FOUND if none. */
static int get_in(struct store_tx *tx, const char *tenant, enum query_id q, const char *endpoint,
                  const char *key, const struct row_type *t, void **out, const char *what,
                  struct err *e)
{
    OPEN(tenant, q);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, endpoint);
    db_bind_text(&st, 3, key);
    return db_read_one(&st, t, out, what, e);
}

int data_cmp_endpoint_insert(struct store_tx *tx, const char *tenant,
                             const struct cmp_endpoint_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_CMP_ENDPOINT_INSERT, &row_cmp_endpoint, r, "CMP endpoint",
                           e);
}

int data_cmp_endpoint_update(struct store_tx *tx, const char *tenant,
                             const struct cmp_endpoint_rec *r, struct err *e)
{
    OPEN(tenant, Q_CMP_ENDPOINT_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->name);
    db_bind_text(&st, 3, r->ca);
    db_bind_text(&st, 4, r->status);
    db_bind_text(&st, 5, r->settings != NULL ? r->settings : "{}");
    db_bind_int(&st, 6, r->updated);
    db_bind_text(&st, 7, r->key_id);
    db_bind_text(&st, 8, r->cert_serial);
    return db_run_one_change(&st, "CMP endpoint", e);
}

int data_cmp_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                          struct cmp_endpoint_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_CMP_ENDPOINT_GET, name, &row_cmp_endpoint, (void **)out,
                       "CMP endpoint", e);
}

int data_cmp_endpoint_list(struct store_tx *tx, const char *tenant, struct cmp_endpoint_rec ***out,
                           size_t *n, struct err *e)
{
    return data_list_of(tx, tenant, Q_CMP_ENDPOINT_LIST, &row_cmp_endpoint, (void ***)out, n,
                        "CMP endpoints", e);
}

int data_cmp_secret_insert(struct store_tx *tx, const char *tenant, const struct cmp_secret_rec *r,
                           struct err *e)
{
    return data_insert_row(tx, tenant, Q_CMP_SECRET_INSERT, &row_cmp_secret, r, "CMP shared secret",
                           e);
}

int data_cmp_secret_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                        const char *ref, struct cmp_secret_rec **out, struct err *e)
{
    return get_in(tx, tenant, locked_in_write(tx, Q_CMP_SECRET_GET_LOCKED, Q_CMP_SECRET_GET),
                  endpoint, ref, &row_cmp_secret, (void **)out, "CMP shared secret", e);
}

int data_cmp_secret_update(struct store_tx *tx, const char *tenant, const struct cmp_secret_rec *r,
                           struct err *e)
{
    OPEN(tenant, Q_CMP_SECRET_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->endpoint);
    db_bind_text(&st, 3, r->ref);
    db_bind_text(&st, 4, r->settings != NULL ? r->settings : "{}");
    db_bind_text(&st, 5, r->status);
    db_bind_int(&st, 6, r->uses);
    db_bind_int(&st, 7, r->updated);
    return db_run_one_change(&st, "CMP shared secret", e);
}

int data_cmp_secret_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                         struct cmp_secret_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, endpoint != NULL ? Q_CMP_SECRET_LIST : Q_CMP_SECRET_LIST_ALL);
    db_bind_text(&st, 1, tenant);
    if (endpoint != NULL)
        db_bind_text(&st, 2, endpoint);
    return db_read_all(&st, &row_cmp_secret, (void ***)out, n, "CMP shared secrets", e);
}

int data_cmp_transaction_insert(struct store_tx *tx, const char *tenant,
                                const struct cmp_transaction_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_CMP_TX_INSERT, &row_cmp_transaction, r, "CMP transaction",
                           e);
}

int data_cmp_transaction_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                             const char *txid, struct cmp_transaction_rec **out, struct err *e)
{
    return get_in(tx, tenant, locked_in_write(tx, Q_CMP_TX_GET_LOCKED, Q_CMP_TX_GET), endpoint,
                  txid, &row_cmp_transaction, (void **)out, "CMP transaction", e);
}

int data_cmp_transaction_update(struct store_tx *tx, const char *tenant,
                                const struct cmp_transaction_rec *r, struct err *e)
{
    OPEN(tenant, Q_CMP_TX_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->endpoint);
    db_bind_text(&st, 3, r->txid);
    db_bind_text(&st, 4, r->status);
    db_bind_text(&st, 5, r->serial);
    db_bind_text(&st, 6, r->cert_hash);
    db_bind_text(&st, 7, r->request);
    db_bind_text(&st, 8, r->message);
    db_bind_int(&st, 9, r->expires);
    db_bind_int(&st, 10, r->updated);
    db_bind_text(&st, 11, r->server_nonce);
    return db_run_one_change(&st, "CMP transaction", e);
}

int data_cmp_transaction_expired(struct store_tx *tx, const char *tenant, int64_t before, int limit,
                                 struct cmp_transaction_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_CMP_TX_EXPIRED);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, before);
    db_bind_int(&st, 3, data_limit(limit));
    return db_read_all(&st, &row_cmp_transaction, (void ***)out, n, "CMP transactions", e);
}

int data_cmp_nonce_use(struct store_tx *tx, const char *tenant, const char *nonce, int64_t expires,
                       struct err *e)
{
    OPEN(tenant, Q_CMP_NONCE_USE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, nonce);
    db_bind_int(&st, 3, expires);
    return db_run_insert(&st, "used CMP nonce", e);
}

int data_cmp_prune(struct store_tx *tx, const char *tenant, int64_t now, int64_t before, int64_t *n,
                   struct err *e)
{
    static const enum query_id qs[] = {Q_CMP_NONCE_PRUNE, Q_CMP_TX_PRUNE};
    int64_t total = 0, changed;

    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        OPEN(tenant, qs[i]);
        db_bind_text(&st, 1, tenant);
        db_bind_int(&st, 2, i == 0 ? now : before);
        if ((changed = db_run_changes(&st, "CMP rows", e)) < 0)
            return -1;
        total += changed;
    }
    *n = total;
    return 0;
}
