/*
 * store_data_acme.c — the data calls of ACME (issue 16): endpoints, External
 * Account Binding credentials, accounts, orders, authorizations, used
 * nonces, the tenants' shared secrets and renewal windows; written once for
 * both backends as store_data.c's are (its header says how).
 */
#include "store/store_data.h"

#include <stdlib.h>
#include <string.h>

/* ---- ACME ------------------------------------------------------------------ */

/*
 * q_locked in a write transaction where the dialect has it, else q: the row
 * read stays locked until commit, so a read-then-change of it is not
 * interleaved with another node's, as SQLite's single writer guarantees.
 */
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

int data_acme_endpoint_insert(struct store_tx *tx, const char *tenant,
                              const struct acme_endpoint_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_ACME_ENDPOINT_INSERT, &row_acme_endpoint, r,
                           "ACME endpoint", e);
}

int data_acme_endpoint_update(struct store_tx *tx, const char *tenant,
                              const struct acme_endpoint_rec *r, struct err *e)
{
    OPEN(tenant, Q_ACME_ENDPOINT_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->name);
    db_bind_text(&st, 3, r->ca);
    db_bind_text(&st, 4, r->status);
    db_bind_text(&st, 5, r->settings != NULL ? r->settings : "{}");
    db_bind_int(&st, 6, r->updated);
    return db_run_one_change(&st, "ACME endpoint", e);
}

int data_acme_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                           struct acme_endpoint_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_ACME_ENDPOINT_GET, name, &row_acme_endpoint, (void **)out,
                       "ACME endpoint", e);
}

int data_acme_endpoint_list(struct store_tx *tx, const char *tenant,
                            struct acme_endpoint_rec ***out, size_t *n, struct err *e)
{
    return data_list_of(tx, tenant, Q_ACME_ENDPOINT_LIST, &row_acme_endpoint, (void ***)out, n,
                        "ACME endpoints", e);
}

int data_acme_eab_insert(struct store_tx *tx, const char *tenant, const struct acme_eab_rec *r,
                         struct err *e)
{
    return data_insert_row(tx, tenant, Q_ACME_EAB_INSERT, &row_acme_eab, r, "EAB credential", e);
}

int data_acme_eab_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                      const char *kid, struct acme_eab_rec **out, struct err *e)
{
    return get_in(tx, tenant, locked_in_write(tx, Q_ACME_EAB_GET_LOCKED, Q_ACME_EAB_GET), endpoint,
                  kid, &row_acme_eab, (void **)out, "EAB credential", e);
}

int data_acme_eab_update(struct store_tx *tx, const char *tenant, const struct acme_eab_rec *r,
                         struct err *e)
{
    OPEN(tenant, Q_ACME_EAB_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->endpoint);
    db_bind_text(&st, 3, r->kid);
    db_bind_text(&st, 4, r->settings != NULL ? r->settings : "{}");
    db_bind_text(&st, 5, r->status);
    db_bind_int(&st, 6, r->uses);
    db_bind_int(&st, 7, r->updated);
    return db_run_one_change(&st, "EAB credential", e);
}

int data_acme_eab_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                       struct acme_eab_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, endpoint != NULL ? Q_ACME_EAB_LIST : Q_ACME_EAB_LIST_ALL);
    db_bind_text(&st, 1, tenant);
    if (endpoint != NULL)
        db_bind_text(&st, 2, endpoint);
    return db_read_all(&st, &row_acme_eab, (void ***)out, n, "EAB credentials", e);
}

int data_acme_account_insert(struct store_tx *tx, const char *tenant,
                             const struct acme_account_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_ACME_ACCOUNT_INSERT, &row_acme_account, r, "ACME account",
                           e);
}

int data_acme_account_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                          const char *id, struct acme_account_rec **out, struct err *e)
{
    return get_in(tx, tenant, locked_in_write(tx, Q_ACME_ACCOUNT_GET_LOCKED, Q_ACME_ACCOUNT_GET),
                  endpoint, id, &row_acme_account, (void **)out, "ACME account", e);
}

int data_acme_account_by_key(struct store_tx *tx, const char *tenant, const char *endpoint,
                             const char *thumbprint, struct acme_account_rec **out, struct err *e)
{
    return get_in(tx, tenant, Q_ACME_ACCOUNT_BY_KEY, endpoint, thumbprint, &row_acme_account,
                  (void **)out, "ACME account", e);
}

/*
 * The update changes no row when the account is not there or another account
 * of the endpoint has the new key; which of the two is read after.
 */
int data_acme_account_update(struct store_tx *tx, const char *tenant,
                             const struct acme_account_rec *r, struct err *e)
{
    struct acme_account_rec *there = NULL;
    int64_t n;
    OPEN(tenant, Q_ACME_ACCOUNT_UPDATE);

    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->endpoint);
    db_bind_text(&st, 3, r->id);
    db_bind_text(&st, 4, r->thumbprint);
    db_bind_text(&st, 5, r->jwk);
    db_bind_text(&st, 6, r->status);
    db_bind_text(&st, 7, r->contact != NULL ? r->contact : "[]");
    db_bind_int(&st, 8, r->updated);
    if ((n = db_run_changes(&st, "ACME account", e)) != 0)
        return n > 0 ? 0 : -1;
    if (get_in(tx, tenant, Q_ACME_ACCOUNT_GET, r->endpoint, r->id, &row_acme_account,
               (void **)&there, "ACME account", e) != 0)
        return -1;
    acme_account_rec_free(there);
    return err_set(e, ERR_CONFLICT, "ACME account: another account of endpoint %s has that key",
                   r->endpoint);
}

int data_acme_account_by_eab(struct store_tx *tx, const char *tenant, const char *endpoint,
                             const char *kid, struct acme_account_rec ***out, size_t *n,
                             struct err *e)
{
    OPEN(tenant, Q_ACME_ACCOUNT_BY_EAB);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, endpoint);
    db_bind_text(&st, 3, kid);
    return db_read_all(&st, &row_acme_account, (void ***)out, n, "ACME accounts", e);
}

int data_acme_order_insert(struct store_tx *tx, const char *tenant, const struct acme_order_rec *r,
                           struct err *e)
{
    return data_insert_row(tx, tenant, Q_ACME_ORDER_INSERT, &row_acme_order, r, "ACME order", e);
}

int data_acme_order_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                        const char *id, struct acme_order_rec **out, struct err *e)
{
    return get_in(tx, tenant, locked_in_write(tx, Q_ACME_ORDER_GET_LOCKED, Q_ACME_ORDER_GET),
                  endpoint, id, &row_acme_order, (void **)out, "ACME order", e);
}

int data_acme_order_update(struct store_tx *tx, const char *tenant, const struct acme_order_rec *r,
                           struct err *e)
{
    OPEN(tenant, Q_ACME_ORDER_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->endpoint);
    db_bind_text(&st, 3, r->id);
    db_bind_text(&st, 4, r->status);
    db_bind_text(&st, 5, r->error);
    db_bind_text(&st, 6, r->serial);
    db_bind_text(&st, 7, r->request);
    db_bind_int(&st, 8, r->updated);
    return db_run_one_change(&st, "ACME order", e);
}

int data_acme_order_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                         const char *account, int limit, int offset, struct acme_order_rec ***out,
                         size_t *n, struct err *e)
{
    OPEN(tenant, Q_ACME_ORDER_LIST);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, endpoint);
    db_bind_text(&st, 3, account);
    data_bind_page(&st, 4, limit, offset);
    return db_read_all(&st, &row_acme_order, (void ***)out, n, "ACME orders", e);
}

int data_acme_authz_insert(struct store_tx *tx, const char *tenant, const struct acme_authz_rec *r,
                           struct err *e)
{
    return data_insert_row(tx, tenant, Q_ACME_AUTHZ_INSERT, &row_acme_authz, r,
                           "ACME authorization", e);
}

int data_acme_authz_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                        const char *id, struct acme_authz_rec **out, struct err *e)
{
    return get_in(tx, tenant, locked_in_write(tx, Q_ACME_AUTHZ_GET_LOCKED, Q_ACME_AUTHZ_GET),
                  endpoint, id, &row_acme_authz, (void **)out, "ACME authorization", e);
}

int data_acme_authz_update(struct store_tx *tx, const char *tenant, const struct acme_authz_rec *r,
                           struct err *e)
{
    OPEN(tenant, Q_ACME_AUTHZ_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->endpoint);
    db_bind_text(&st, 3, r->id);
    db_bind_text(&st, 4, r->status);
    db_bind_int(&st, 5, r->expires);
    db_bind_text(&st, 6, r->challenges != NULL ? r->challenges : "[]");
    db_bind_int(&st, 7, r->validating);
    db_bind_int(&st, 8, r->updated);
    return db_run_one_change(&st, "ACME authorization", e);
}

int data_acme_authz_reusable(struct store_tx *tx, const char *tenant, const char *endpoint,
                             const char *account, const char *ident_type, const char *ident_value,
                             int wildcard, int64_t until, struct acme_authz_rec **out,
                             struct err *e)
{
    OPEN(tenant, Q_ACME_AUTHZ_REUSABLE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, endpoint);
    db_bind_text(&st, 3, account);
    db_bind_text(&st, 4, ident_type);
    db_bind_text(&st, 5, ident_value);
    db_bind_int(&st, 6, wildcard ? 1 : 0);
    db_bind_int(&st, 7, until);
    return db_read_one(&st, &row_acme_authz, (void **)out, "reusable ACME authorization", e);
}

int data_acme_authz_stalled(struct store_tx *tx, const char *tenant, int64_t before, int limit,
                            struct acme_authz_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_ACME_AUTHZ_STALLED);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, before);
    db_bind_int(&st, 3, data_limit(limit));
    return db_read_all(&st, &row_acme_authz, (void ***)out, n, "stalled ACME authorizations", e);
}

/* A plain insert: a nonce filed already is ERR_CONFLICT, the transaction going on. */
int data_acme_nonce_use(struct store_tx *tx, const char *tenant, const char *nonce, int64_t expires,
                        struct err *e)
{
    OPEN(tenant, Q_ACME_NONCE_USE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, nonce);
    db_bind_int(&st, 3, expires);
    return db_run_insert(&st, "used ACME nonce", e);
}

int data_acme_prune(struct store_tx *tx, const char *tenant, int64_t before, int64_t *n,
                    struct err *e)
{
    static const enum query_id qs[] = {Q_ACME_ORDER_PRUNE, Q_ACME_AUTHZ_PRUNE};
    int64_t total = 0, changed;

    for (size_t k = 0; k < ARRAY_LEN(qs); k++) {
        OPEN(tenant, qs[k]);
        db_bind_text(&st, 1, tenant);
        db_bind_int(&st, 2, k == 0 ? before : before - 30 * 86400);
        if ((changed = db_run_changes(&st, "ACME orders and authorizations", e)) < 0)
            return -1;
        total += changed;
    }
    *n = total;
    return 0;
}

int data_acme_nonce_prune(struct store_tx *tx, const char *tenant, int64_t before, int64_t *n,
                          struct err *e)
{
    int64_t changed;
    OPEN(tenant, Q_ACME_NONCE_PRUNE);

    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, before);
    if ((changed = db_run_changes(&st, "ACME nonces", e)) < 0)
        return -1;
    *n = changed;
    return 0;
}

/* ---- shared secrets and renewal windows ----------------------------------- */

/*
 * Files value unless name has one (Q_SECRET_PUT never clashes: of two
 * transactions filing at once, the second waits for the first, then skips),
 * then reads what is stored.
 */
int data_secret_get_or_put(struct store_tx *tx, const char *tenant, const char *name,
                           const char *value, char **out, struct err *e)
{
    const char *stored;
    int rc;
    OPEN(tenant, Q_SECRET_PUT);

    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, name);
    db_bind_text(&st, 3, value);
    db_bind_int(&st, 4, time_now());
    if (db_run(&st, "secret", e) != 0)
        return -1;
    if (db_open(&st, TX(tx), tenant, Q_SECRET_GET, e) != 0)
        return -1;
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, name);
    rc = db_step(&st, "secret", e);
    stored = rc > 0 ? TX(tx)->drv->read_text(&st, 0) : NULL;
    if (stored != NULL)
        *out = xstrdup(stored);
    db_close(&st);
    if (rc < 0)
        return -1;
    return stored != NULL ? 0 : err_set(e, ERR_INTERNAL, "secret %s: not stored", name);
}

int data_renewal_window_put(struct store_tx *tx, const char *tenant,
                            const struct renewal_window_rec *r, struct err *e)
{
    return data_put_row(tx, tenant, Q_RENEWAL_WINDOW_PUT, &row_renewal_window, r, "renewal window",
                        e);
}

int data_renewal_window_get(struct store_tx *tx, const char *tenant, const char *serial,
                            struct renewal_window_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_RENEWAL_WINDOW_GET, serial, &row_renewal_window, (void **)out,
                       "renewal window", e);
}
