/*
 * store_data.c — the data calls of store.h, written once for both backends:
 * each opens a query of its backend's dialect (store_queries.c, and
 * sqlite_queries.c or pg_queries.c), binds its parameters and reads its rows
 * through the backend's driver (store_driver.h), records by their row types
 * (store_rows.h).  What differs between the backends is in their query
 * texts, in the optional queries a dialect has (PostgreSQL's locks and
 * cursors) and in their drivers (PostgreSQL's row-level security setting).
 *
 * Every query has bound parameters; searches are put together from fixed
 * fragments, so no SQL text ever contains input.  Every call on tenant data
 * names the tenant in its WHERE clause (and opens its statements for that
 * tenant, which PostgreSQL's row-level security holds it to); only the
 * tenant listing, the token lookup by hash and the forwarding targets' list
 * read across tenants.
 */
#include "store/store_data.h"

#include <stdlib.h>

int data_limit(int limit)
{
    return limit <= 0 ? 100 : (limit > 1000 ? 1000 : limit);
}

/* A page as parameters i and i + 1: limit 0 (or less) is 100, at most 1000; offset at least 0. */
void data_bind_page(struct db_stmt *st, int i, int limit, int offset)
{
    db_bind_int(st, i, data_limit(limit));
    db_bind_int(st, i + 1, offset > 0 ? offset : 0);
}

/*
 * Reads every row of query q across tenants (the backend lifts its wall
 * between tenants for this read alone).
 */
int data_read_all_across(struct store_tx *tx, enum query_id q, const struct row_type *t,
                         void ***out, size_t *n, const char *what, struct err *e)
{
    const struct db_driver *drv = TX(tx)->drv;
    struct db_stmt st;
    int rc;

    if (drv->cross_tenant != NULL && drv->cross_tenant(TX(tx), 1, e) != 0)
        return -1;
    rc = db_open(&st, TX(tx), NULL, q, e) == 0 ? db_read_all(&st, t, out, n, what, e) : -1;
    if (drv->cross_tenant != NULL && drv->cross_tenant(TX(tx), 0, rc == 0 ? e : NULL) != 0 &&
        rc == 0) {
        row_list_free(t, *out, *n);
        *out = NULL;
        *n = 0;
        rc = -1;
    }
    return rc;
}

/* ---- the common shapes of a data call --------------------------------------- */

/* Inserts record rec of type t with query q: its columns are parameters 1.., tenant first. */
int data_insert_row(struct store_tx *tx, const char *tenant, enum query_id q,
                    const struct row_type *t, const void *rec, const char *what, struct err *e)
{
    OPEN(tenant, q);
    db_bind_row(&st, t, rec, tenant, -1);
    return db_run_insert(&st, what, e);
}

/* As insert_row, for a query that replaces the row of the same key (an upsert). */
int data_put_row(struct store_tx *tx, const char *tenant, enum query_id q, const struct row_type *t,
                 const void *rec, const char *what, struct err *e)
{
    OPEN(tenant, q);
    db_bind_row(&st, t, rec, tenant, -1);
    return db_run(&st, what, e);
}

/* The one record of query q on tenant's rows (parameter 1) into *out; ERR_NOT_FOUND if none. */
int data_get_of(struct store_tx *tx, const char *tenant, enum query_id q, const struct row_type *t,
                void **out, const char *what, struct err *e)
{
    OPEN(tenant, q);
    db_bind_text(&st, 1, tenant);
    return db_read_one(&st, t, out, what, e);
}

/* As get_of, for the record named key (parameter 2). */
int data_get_by(struct store_tx *tx, const char *tenant, enum query_id q, const char *key,
                const struct row_type *t, void **out, const char *what, struct err *e)
{
    OPEN(tenant, q);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, key);
    return db_read_one(&st, t, out, what, e);
}

/* Every record of query q on tenant's rows (parameter 1). */
int data_list_of(struct store_tx *tx, const char *tenant, enum query_id q, const struct row_type *t,
                 void ***out, size_t *n, const char *what, struct err *e)
{
    OPEN(tenant, q);
    db_bind_text(&st, 1, tenant);
    return db_read_all(&st, t, out, n, what, e);
}

/* Deletes with query q tenant's row (parameter 1), named key (parameter 2) unless key_less. */
int data_delete_by(struct store_tx *tx, const char *tenant, enum query_id q, const char *key,
                   int key_less, const char *what, struct err *e)
{
    OPEN(tenant, q);
    db_bind_text(&st, 1, tenant);
    if (!key_less)
        db_bind_text(&st, 2, key);
    return db_run_one_change(&st, what, e);
}

/* ---- tenants ------------------------------------------------------------- */

static int tenant_create(struct store_tx *tx, const char *tenant, struct err *e)
{
    OPEN(tenant, Q_TENANT_INSERT);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, time_now());
    return db_run_insert(&st, "tenant", e);
}

static int tenant_get(struct store_tx *tx, const char *tenant, struct tenant_rec **out,
                      struct err *e)
{
    return data_get_of(tx, tenant, Q_TENANT_GET, &row_tenant, (void **)out, "tenant", e);
}

/* Across tenants, deliberately: the system administrator's listing. */
static int tenant_list(struct store_tx *tx, struct tenant_rec ***out, size_t *n, struct err *e)
{
    return data_read_all_across(tx, Q_TENANT_LIST, &row_tenant, (void ***)out, n, "tenants", e);
}

static int tenant_update(struct store_tx *tx, const char *tenant, const struct tenant_rec *r,
                         struct err *e)
{
    OPEN(tenant, Q_TENANT_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->status);
    db_bind_text(&st, 3, r->status_reason);
    db_bind_int(&st, 4, r->deleted_at);
    db_bind_int(&st, 5, r->purge_after);
    db_bind_int(&st, 6, r->certs_per_hour);
    db_bind_int(&st, 7, r->requests_per_second);
    return db_run_one_change(&st, "tenant", e);
}

/* The first column of every row of st as new strings (the caller frees them and the array). */
static int read_texts(struct db_stmt *st, char ***out, size_t *n, const char *what, struct err *e)
{
    char **list = NULL;
    const char *s;
    size_t count = 0;
    int rc;

    while ((rc = db_step(st, what, e)) > 0) {
        s = st->tx->drv->read_text(st, 0);
        list = xrealloc(list, (count + 1) * sizeof(*list));
        list[count++] = s != NULL ? xstrdup(s) : NULL;
    }
    db_close(st);
    *out = list;
    *n = count;
    return rc < 0 ? -1 : 0;
}

static int delete_rows(struct store_tx *tx, const char *table, const char *tenant, struct err *e)
{
    char *sql =
        xasprintf("DELETE FROM \"%s\" WHERE tenant = %c1", table, TX(tx)->drv->dialect->param);
    struct db_stmt st;
    int rc = -1;

    if (db_open_text(&st, TX(tx), tenant, sql, e) == 0) {
        db_bind_text(&st, 1, tenant);
        rc = db_run(&st, "tenant purge", e);
    }
    free(sql);
    return rc;
}

/*
 * The table names come from the schema itself (Q_TENANT_TABLES), never from
 * input; each is quoted as an identifier, and the tenant is a bound value.
 */
static int tenant_purge(struct store_tx *tx, const char *tenant, struct err *e)
{
    struct db_stmt st;
    char **tables = NULL;
    size_t n = 0;
    int rc;

    if (db_open(&st, TX(tx), tenant, Q_TENANT_TABLES, e) != 0)
        return -1;
    rc = read_texts(&st, &tables, &n, "tenant tables", e);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = delete_rows(tx, tables[i] != NULL ? tables[i] : "", tenant, e);
        free(tables[i]);
    }
    free(tables);
    return rc;
}

/* ---- CAs --------------------------------------------------------------- */

static int ca_insert(struct store_tx *tx, const char *tenant, const struct ca_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_CA_INSERT, &row_ca, r, "CA", e);
}

static int ca_update(struct store_tx *tx, const char *tenant, const struct ca_rec *r, struct err *e)
{
    OPEN(tenant, Q_CA_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->name);
    db_bind_text(&st, 3, r->status);
    db_bind_text(&st, 4, r->subject);
    db_bind_blob(&st, 5, r->cert_der, r->cert_len);
    db_bind_blob(&st, 6, r->chain_der, r->chain_len);
    db_bind_text(&st, 7, r->options_json ? r->options_json : "{}");
    db_bind_int(&st, 8, r->not_before);
    db_bind_int(&st, 9, r->not_after);
    return db_run_one_change(&st, "CA", e);
}

static int ca_get(struct store_tx *tx, const char *tenant, const char *name, struct ca_rec **out,
                  struct err *e)
{
    return data_get_by(tx, tenant, Q_CA_GET, name, &row_ca, (void **)out, "CA", e);
}

static int ca_list(struct store_tx *tx, const char *tenant, struct ca_rec ***out, size_t *n,
                   struct err *e)
{
    return data_list_of(tx, tenant, Q_CA_LIST, &row_ca, (void ***)out, n, "CAs", e);
}

/* ---- profiles ------------------------------------------------------------ */

/*
 * The next version of (tenant, name); where the dialect has Q_PROFILE_LOCK,
 * under that lock, so writers on several nodes number versions in turn.
 */
static int profile_put(struct store_tx *tx, const char *tenant, const char *name, const char *json,
                       int *version_out, struct err *e)
{
    struct db_stmt st;
    int64_t version;

    if (db_has(TX(tx), Q_PROFILE_LOCK)) {
        if (db_open(&st, TX(tx), tenant, Q_PROFILE_LOCK, e) != 0)
            return -1;
        db_bind_text(&st, 1, tenant);
        db_bind_text(&st, 2, name);
        if (db_run(&st, "profile", e) != 0)
            return -1;
    }
    if (db_open(&st, TX(tx), tenant, Q_PROFILE_MAXVER, e) != 0)
        return -1;
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, name);
    if (db_read_int(&st, &version, "profile", e) != 0)
        return -1;
    version++;
    if (db_open(&st, TX(tx), tenant, Q_PROFILE_INSERT, e) != 0)
        return -1;
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, name);
    db_bind_int(&st, 3, version);
    db_bind_text(&st, 4, json);
    db_bind_int(&st, 5, time_now());
    if (db_run_insert(&st, "profile", e) != 0)
        return -1;
    *version_out = (int)version;
    return 0;
}

static int profile_get(struct store_tx *tx, const char *tenant, const char *name, int version,
                       struct profile_rec **out, struct err *e)
{
    OPEN(tenant, version > 0 ? Q_PROFILE_GET_VERSION : Q_PROFILE_GET_LATEST);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, name);
    if (version > 0)
        db_bind_int(&st, 3, version);
    return db_read_one(&st, &row_profile, (void **)out, "profile", e);
}

static int profile_list(struct store_tx *tx, const char *tenant, struct profile_rec ***out,
                        size_t *n, struct err *e)
{
    return data_list_of(tx, tenant, Q_PROFILE_LIST, &row_profile, (void ***)out, n, "profiles", e);
}

/* ---- end entities ------------------------------------------------------- */

static int entity_insert(struct store_tx *tx, const char *tenant, const struct entity_rec *r,
                         struct err *e)
{
    return data_insert_row(tx, tenant, Q_ENTITY_INSERT, &row_entity, r, "entity", e);
}

/* Parameters 1..9 are the columns from tenant to metadata, as for an insert. */
static int entity_update(struct store_tx *tx, const char *tenant, const struct entity_rec *r,
                         struct err *e)
{
    OPEN(tenant, Q_ENTITY_UPDATE);
    db_bind_row(&st, &row_entity, r, tenant, 9);
    return db_run_one_change(&st, "entity", e);
}

static int entity_get(struct store_tx *tx, const char *tenant, const char *id,
                      struct entity_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_ENTITY_GET, id, &row_entity, (void **)out, "entity", e);
}

/* The filters whose values are set, as a search's mask (bit i: values[i]). */
static unsigned mask_of(const char *const *values, int n)
{
    unsigned mask = 0;

    for (int i = 0; i < n; i++)
        mask |= values[i] != NULL ? 1u << i : 0;
    return mask;
}

/* Binds the values that are set from parameter p on; the number of the next parameter. */
static int bind_set(struct db_stmt *st, int p, const char *const *values, int n)
{
    for (int i = 0; i < n; i++)
        if (values[i] != NULL)
            db_bind_text(st, p++, values[i]);
    return p;
}

static int entity_search(struct store_tx *tx, const char *tenant, const struct entity_query *q,
                         struct entity_rec ***out, size_t *n, struct err *e)
{
    const char *values[ENTITY_FILTERS] = {q->name, q->kind, q->email};
    struct db_stmt st;
    int p = 1;

    if (db_open_search(&st, TX(tx), tenant, SEARCH_ENTITY, mask_of(values, ENTITY_FILTERS), e) != 0)
        return -1;
    db_bind_text(&st, p++, tenant);
    p = bind_set(&st, p, values, ENTITY_FILTERS);
    data_bind_page(&st, p, q->limit, q->offset);
    return db_read_all(&st, &row_entity, (void ***)out, n, "entities", e);
}

/* ---- certificates ------------------------------------------------------- */

static int cert_insert(struct store_tx *tx, const char *tenant, const struct cert_rec *r,
                       struct err *e)
{
    return data_insert_row(tx, tenant, Q_CERT_INSERT, &row_cert, r, "certificate serial", e);
}

static int cert_count_since(struct store_tx *tx, const char *tenant, int64_t since, int64_t *n,
                            struct err *e)
{
    OPEN(tenant, Q_CERT_COUNT_SINCE);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, since);
    return db_read_int(&st, n, "certificates", e);
}

/*
 * In a write transaction, where the dialect has Q_CERT_GET_LOCKED, the row
 * stays locked until commit, so a read-then-change of one certificate
 * (revoke, hold, release) is not interleaved with another node's, as
 * SQLite's single writer guarantees.
 */
static int cert_get(struct store_tx *tx, const char *tenant, const char *serial,
                    struct cert_rec **out, struct err *e)
{
    OPEN(tenant,
         TX(tx)->write && db_has(TX(tx), Q_CERT_GET_LOCKED) ? Q_CERT_GET_LOCKED : Q_CERT_GET);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, serial);
    return db_read_one(&st, &row_cert, (void **)out, "certificate", e);
}

static int cert_set_status(struct store_tx *tx, const char *tenant, const char *serial,
                           const char *status, int64_t revoked_at, int reason,
                           int64_t invalidity_date, int64_t changed, struct err *e)
{
    OPEN(tenant, Q_CERT_SET_STATUS);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, serial);
    db_bind_text(&st, 3, status);
    db_bind_int(&st, 4, revoked_at);
    db_bind_int(&st, 5, reason);
    db_bind_int(&st, 6, invalidity_date);
    db_bind_int(&st, 7, changed);
    return db_run_one_change(&st, "certificate", e);
}

/*
 * Opens search s (SEARCH_CERT or SEARCH_CERT_TOTAL) with q's filters bound: 0..7 are the texts
 * of values, 8 and 9 not_after's lower and upper bound.  The next parameter's number, or -1.
 */
static int cert_query_open(struct db_stmt *st, struct store_tx *tx, const char *tenant,
                           const struct cert_query *q, enum search_id s, struct err *e)
{
    const char *values[CERT_FILTERS - 2] = {q->serial, q->subject,   q->san,     q->status,
                                            q->ca,     q->entity_id, q->profile, q->requester};
    unsigned mask = mask_of(values, CERT_FILTERS - 2);
    int p = 1;

    mask |= q->expires_after != 0 ? 1u << (CERT_FILTERS - 2) : 0;
    mask |= q->expires_before != 0 ? 1u << (CERT_FILTERS - 1) : 0;
    if (db_open_search(st, TX(tx), tenant, s, mask, e) != 0)
        return -1;
    db_bind_text(st, p++, tenant);
    p = bind_set(st, p, values, CERT_FILTERS - 2);
    if (q->expires_after != 0)
        db_bind_int(st, p++, q->expires_after);
    if (q->expires_before != 0)
        db_bind_int(st, p++, q->expires_before);
    return p;
}

static int cert_search(struct store_tx *tx, const char *tenant, const struct cert_query *q,
                       struct cert_rec ***out, size_t *n, struct err *e)
{
    struct db_stmt st;
    int p = cert_query_open(&st, tx, tenant, q, SEARCH_CERT, e);

    if (p < 0)
        return -1;
    data_bind_page(&st, p, q->limit, q->offset);
    return db_read_all(&st, &row_cert, (void ***)out, n, "certificates", e);
}

static int cert_total(struct store_tx *tx, const char *tenant, const struct cert_query *q,
                      int64_t *total, struct err *e)
{
    struct db_stmt st;

    if (cert_query_open(&st, tx, tenant, q, SEARCH_CERT_TOTAL, e) < 0)
        return -1;
    return db_read_int(&st, total, "certificates", e);
}

static int cert_revoked(struct store_tx *tx, const char *tenant, const char *ca,
                        int64_t expired_cutoff, struct cert_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_CERT_REVOKED);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, ca);
    db_bind_int(&st, 3, expired_cutoff);
    return db_read_all(&st, &row_cert, (void ***)out, n, "revoked certificates", e);
}

/* Hands the current row of st (CRL_ENTRY_COLUMNS) to fn: 0, or what fn or the check returns. */
static int crl_entry(struct db_stmt *st, store_crl_entry_fn fn, void *arg, struct err *e)
{
    const struct db_driver *drv = st->tx->drv;
    struct crl_entry_rec r;

    r.serial = drv->read_text(st, 0);
    r.status = drv->read_text(st, 1);
    r.revoked_at = drv->read_int64(st, 2);
    r.reason = (int)drv->read_int64(st, 3);
    r.invalidity_date = drv->read_int64(st, 4);
    r.status_changed = drv->read_int64(st, 5);
    if (r.serial == NULL || r.status == NULL)
        return err_set(e, ERR_INTERNAL, "CRL entries: a row without serial or status");
    return fn(arg, &r, e);
}

/* Hands every row of st to fn and closes st; *rows how many were read. */
static int crl_entries_read(struct db_stmt *st, store_crl_entry_fn fn, void *arg, int *rows,
                            struct err *e)
{
    int step = 0, rc = 0;

    *rows = 0;
    while (rc == 0 && (step = db_step(st, "CRL entries", e)) > 0) {
        (*rows)++;
        rc = crl_entry(st, fn, arg, e);
    }
    db_close(st);
    return rc == 0 && step < 0 ? -1 : rc;
}

/*
 * Where the dialect has Q_CRL_ENTRIES_FETCH, the entries query declares a
 * cursor whose rows are fetched in pages, so a CRL of a million entries never
 * sits in memory as one result.
 */
static int cert_crl_entries(struct store_tx *tx, const char *tenant, const char *ca, int shard,
                            int64_t expired_cutoff, int64_t changed_since, store_crl_entry_fn fn,
                            void *arg, struct err *e)
{
    enum query_id q = changed_since > 0 ? (shard > 0 ? Q_CERT_CRL_DELTA_SHARD : Q_CERT_CRL_DELTA)
                                        : (shard > 0 ? Q_CERT_CRL_FULL_SHARD : Q_CERT_CRL_FULL);
    int p = 4, rows, rc;
    OPEN(tenant, q);

    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, ca);
    db_bind_int(&st, 3, expired_cutoff);
    if (shard > 0)
        db_bind_int(&st, p++, shard);
    if (changed_since > 0)
        db_bind_int(&st, p++, changed_since);
    if (!db_has(TX(tx), Q_CRL_ENTRIES_FETCH))
        return crl_entries_read(&st, fn, arg, &rows, e);
    if (db_run(&st, "CRL entries", e) != 0)
        return -1;
    do {
        if (db_open(&st, TX(tx), NULL, Q_CRL_ENTRIES_FETCH, e) != 0)
            return -1;
        rc = crl_entries_read(&st, fn, arg, &rows, e);
    } while (rc == 0 && rows > 0);
    if ((db_open(&st, TX(tx), NULL, Q_CRL_ENTRIES_CLOSE, rc == 0 ? e : NULL) != 0 ||
         db_run(&st, "CRL entries", rc == 0 ? e : NULL) != 0) &&
        rc == 0)
        rc = -1;
    return rc;
}

/* ---- CRLs ------------------------------------------------------------- */

/*
 * Takes the counter row of (tenant, ca) with Q_CRLNUM_BUMP, which keeps it
 * locked until commit, so numbers strictly increase in commit order; it
 * answers the number itself where the dialect has no Q_CRLNUM_GET.
 */
static int crl_next_number(struct store_tx *tx, const char *tenant, const char *ca, int64_t *out,
                           struct err *e)
{
    OPEN(tenant, Q_CRLNUM_BUMP);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, ca);
    if (!db_has(TX(tx), Q_CRLNUM_GET))
        return db_read_int(&st, out, "CRL number", e);
    if (db_run(&st, "CRL number", e) != 0)
        return -1;
    if (db_open(&st, TX(tx), tenant, Q_CRLNUM_GET, e) != 0)
        return -1;
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, ca);
    return db_read_int(&st, out, "CRL number", e);
}

static int crl_insert(struct store_tx *tx, const char *tenant, const struct crl_rec *r,
                      struct err *e)
{
    return data_insert_row(tx, tenant, Q_CRL_INSERT, &row_crl, r, "CRL", e);
}

static int crl_latest(struct store_tx *tx, const char *tenant, const char *ca, struct crl_rec **out,
                      struct err *e)
{
    return data_get_by(tx, tenant, Q_CRL_LATEST, ca, &row_crl, (void **)out, "CRL", e);
}

static int crl_latest_scope(struct store_tx *tx, const char *tenant, const char *ca, int shard,
                            int delta, struct crl_rec **out, struct err *e)
{
    OPEN(tenant, delta ? Q_CRL_LATEST_DELTA : Q_CRL_LATEST_FULL);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, ca);
    db_bind_int(&st, 3, shard);
    return db_read_one(&st, &row_crl, (void **)out, "CRL", e);
}

static int crl_prune(struct store_tx *tx, const char *tenant, const char *ca, int shard, int delta,
                     int keep, struct err *e)
{
    OPEN(tenant, Q_CRL_PRUNE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, ca);
    db_bind_int(&st, 3, shard);
    db_bind_int(&st, 4, delta ? 1 : 0);
    db_bind_int(&st, 5, keep > 0 ? keep - 1 : 0);
    return db_run(&st, "CRL pruning", e);
}

/* ---- OCSP ------------------------------------------------------------- */

static int ocsp_responder_get(struct store_tx *tx, const char *tenant, const char *ca,
                              struct ocsp_responder_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_OCSP_RESPONDER_GET, ca, &row_responder, (void **)out,
                       "OCSP responder", e);
}

static int ocsp_responder_put(struct store_tx *tx, const char *tenant,
                              const struct ocsp_responder_rec *r, struct err *e)
{
    return data_put_row(tx, tenant, Q_OCSP_RESPONDER_PUT, &row_responder, r, "OCSP responder", e);
}

static int ocsp_get(struct store_tx *tx, const char *tenant, const char *serial,
                    struct ocsp_resp_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_OCSP_GET, serial, &row_ocsp, (void **)out, "OCSP response", e);
}

/* Stores the response only if the certificate still has the status it was made from. */
static int ocsp_put(struct store_tx *tx, const char *tenant, const struct ocsp_resp_rec *r,
                    const struct cert_rec *seen, struct err *e)
{
    int64_t n;
    OPEN(tenant, Q_OCSP_PUT);

    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->serial);
    db_bind_int(&st, 3, r->refresh_at);
    db_bind_int(&st, 4, r->this_update);
    db_bind_int(&st, 5, r->next_update);
    db_bind_blob(&st, 6, r->der, r->der_len);
    db_bind_text(&st, 7, seen->status);
    db_bind_int(&st, 8, seen->revoked_at);
    db_bind_int(&st, 9, seen->reason);
    db_bind_int(&st, 10, seen->invalidity_date);
    if ((n = db_run_changes(&st, "OCSP response", e)) < 0)
        return -1;
    return n == 1 ? 0 : 1;
}

static int ocsp_due(struct store_tx *tx, const char *tenant, const char *ca, int64_t now, int limit,
                    struct cert_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_OCSP_DUE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, ca);
    db_bind_int(&st, 3, now);
    db_bind_int(&st, 4, limit > 0 ? limit : 1000);
    return db_read_all(&st, &row_cert, (void ***)out, n, "due OCSP responses", e);
}

/* ---- tokens ---------------------------------------------------------- */

static int token_insert(struct store_tx *tx, const char *tenant, const struct token_rec *r,
                        struct err *e)
{
    return data_insert_row(tx, tenant, Q_TOKEN_INSERT, &row_token, r, "token", e);
}

/* Across tenants, deliberately: how a request learns its tenant. */
static int token_find(struct store_tx *tx, const char *hash, struct token_rec **out, struct err *e)
{
    const struct db_driver *drv = TX(tx)->drv;
    struct db_stmt st;
    int rc = -1;

    if (drv->cross_tenant != NULL && drv->cross_tenant(TX(tx), 1, e) != 0)
        return -1;
    if (db_open(&st, TX(tx), NULL, Q_TOKEN_FIND, e) == 0) {
        db_bind_text(&st, 1, hash);
        rc = db_read_one(&st, &row_token, (void **)out, "token", e);
    }
    if (drv->cross_tenant != NULL && drv->cross_tenant(TX(tx), 0, rc == 0 ? e : NULL) != 0 &&
        rc == 0) {
        token_rec_free(*out);
        *out = NULL;
        rc = -1;
    }
    return rc;
}

static int token_list(struct store_tx *tx, const char *tenant, struct token_rec ***out, size_t *n,
                      struct err *e)
{
    return data_list_of(tx, tenant, Q_TOKEN_LIST, &row_token, (void ***)out, n, "tokens", e);
}

static int token_delete(struct store_tx *tx, const char *tenant, const char *id, struct err *e)
{
    return data_delete_by(tx, tenant, Q_TOKEN_DELETE, id, 0, "token", e);
}

static int token_revoke(struct store_tx *tx, const char *tenant, const char *id, int64_t when,
                        struct err *e)
{
    OPEN(tenant, Q_TOKEN_REVOKE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, id);
    db_bind_int(&st, 3, when);
    return db_run_one_change(&st, "token", e);
}

/* ---- principals, client CAs and role bindings -------------------------- */

static int principal_insert(struct store_tx *tx, const char *tenant, const struct principal_rec *r,
                            struct err *e)
{
    return data_insert_row(tx, tenant, Q_PRINCIPAL_INSERT, &row_principal, r, "principal", e);
}

static int principal_get(struct store_tx *tx, const char *tenant, const char *id,
                         struct principal_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_PRINCIPAL_GET, id, &row_principal, (void **)out, "principal",
                       e);
}

static int principal_list(struct store_tx *tx, const char *tenant, struct principal_rec ***out,
                          size_t *n, struct err *e)
{
    return data_list_of(tx, tenant, Q_PRINCIPAL_LIST, &row_principal, (void ***)out, n,
                        "principals", e);
}

static int principal_by_cert(struct store_tx *tx, const char *tenant, const char *sha256,
                             const char *issuer, const char *subject, struct principal_rec **out,
                             struct err *e)
{
    OPEN(tenant, Q_PRINCIPAL_BY_CERT);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, sha256);
    db_bind_text(&st, 3, issuer);
    db_bind_text(&st, 4, subject);
    return db_read_one(&st, &row_principal, (void **)out, "principal", e);
}

static int principal_set_disabled(struct store_tx *tx, const char *tenant, const char *id,
                                  int disabled, struct err *e)
{
    OPEN(tenant, Q_PRINCIPAL_DISABLE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, id);
    db_bind_int(&st, 3, disabled);
    return db_run_one_change(&st, "principal", e);
}

static int client_ca_insert(struct store_tx *tx, const char *tenant, const struct client_ca_rec *r,
                            struct err *e)
{
    return data_insert_row(tx, tenant, Q_CLIENT_CA_INSERT, &row_client_ca, r, "client CA", e);
}

static int client_ca_list(struct store_tx *tx, const char *tenant, struct client_ca_rec ***out,
                          size_t *n, struct err *e)
{
    return data_list_of(tx, tenant, Q_CLIENT_CA_LIST, &row_client_ca, (void ***)out, n,
                        "client CAs", e);
}

static int client_ca_delete(struct store_tx *tx, const char *tenant, const char *name,
                            struct err *e)
{
    return data_delete_by(tx, tenant, Q_CLIENT_CA_DELETE, name, 0, "client CA", e);
}

static int binding_insert(struct store_tx *tx, const char *tenant, const struct binding_rec *r,
                          struct err *e)
{
    return data_insert_row(tx, tenant, Q_BINDING_INSERT, &row_binding, r, "role binding", e);
}

/* Parameters 1..4 are the columns tenant, principal_tenant, principal and role. */
static int binding_delete(struct store_tx *tx, const char *tenant, const struct binding_rec *r,
                          struct err *e)
{
    OPEN(tenant, Q_BINDING_DELETE);
    db_bind_row(&st, &row_binding, r, tenant, 4);
    return db_run_one_change(&st, "role binding", e);
}

static int binding_list(struct store_tx *tx, const char *tenant, const char *principal_tenant,
                        const char *principal, struct binding_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, principal != NULL ? Q_BINDING_LIST_OF : Q_BINDING_LIST);
    db_bind_text(&st, 1, tenant);
    if (principal != NULL) {
        db_bind_text(&st, 2, principal_tenant);
        db_bind_text(&st, 3, principal);
    }
    return db_read_all(&st, &row_binding, (void ***)out, n, "role bindings", e);
}

/* ---- audit ------------------------------------------------------------ */

/*
 * In a write transaction, where the dialect has Q_AUDIT_LOCK, first takes the
 * tenant's chain lock: the row read stays the last until this transaction
 * ends, on every node, as audit_append needs.
 */
static int audit_last(struct store_tx *tx, const char *tenant, struct audit_rec **out,
                      struct err *e)
{
    struct db_stmt st;

    if (TX(tx)->write && db_has(TX(tx), Q_AUDIT_LOCK)) {
        if (db_open(&st, TX(tx), tenant, Q_AUDIT_LOCK, e) != 0)
            return -1;
        db_bind_text(&st, 1, tenant);
        if (db_run(&st, "audit", e) != 0)
            return -1;
    }
    if (db_open(&st, TX(tx), tenant, Q_AUDIT_LAST, e) != 0)
        return -1;
    db_bind_text(&st, 1, tenant);
    return db_read_one(&st, &row_audit, (void **)out, "audit", e);
}

static int audit_insert(struct store_tx *tx, const char *tenant, const struct audit_rec *r,
                        struct err *e)
{
    return data_insert_row(tx, tenant, Q_AUDIT_INSERT, &row_audit, r, "audit event", e);
}

static int audit_list(struct store_tx *tx, const char *tenant, int64_t after_seq, int limit,
                      struct audit_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_AUDIT_LIST);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, after_seq);
    db_bind_int(&st, 3, limit > 0 ? limit : 1000);
    return db_read_all(&st, &row_audit, (void ***)out, n, "audit", e);
}

static int audit_key_get(struct store_tx *tx, const char *tenant, struct audit_key_rec **out,
                         struct err *e)
{
    return data_get_of(tx, tenant, Q_AUDIT_KEY_GET, &row_audit_key, (void **)out, "audit key", e);
}

static int audit_key_insert(struct store_tx *tx, const char *tenant, const struct audit_key_rec *r,
                            struct err *e)
{
    return data_insert_row(tx, tenant, Q_AUDIT_KEY_INSERT, &row_audit_key, r, "audit key", e);
}

static int audit_checkpoint_insert(struct store_tx *tx, const char *tenant,
                                   const struct audit_checkpoint_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_AUDIT_CHECKPOINT_INSERT, &row_checkpoint, r,
                           "audit checkpoint", e);
}

static int audit_checkpoint_last(struct store_tx *tx, const char *tenant,
                                 struct audit_checkpoint_rec **out, struct err *e)
{
    return data_get_of(tx, tenant, Q_AUDIT_CHECKPOINT_LAST, &row_checkpoint, (void **)out,
                       "audit checkpoint", e);
}

static int audit_checkpoint_list(struct store_tx *tx, const char *tenant, int64_t after_seq,
                                 int limit, struct audit_checkpoint_rec ***out, size_t *n,
                                 struct err *e)
{
    OPEN(tenant, Q_AUDIT_CHECKPOINT_LIST);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, after_seq);
    db_bind_int(&st, 3, limit > 0 ? limit : 1000);
    return db_read_all(&st, &row_checkpoint, (void ***)out, n, "audit checkpoints", e);
}

static int audit_forward_get(struct store_tx *tx, const char *tenant, const char *target,
                             int64_t *last_seq, struct err *e)
{
    int rc;
    OPEN(tenant, Q_AUDIT_FORWARD_GET);

    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, target);
    rc = db_step(&st, "audit forwarding", e);
    if (rc >= 0)
        *last_seq = rc > 0 ? TX(tx)->drv->read_int64(&st, 0) : 0;
    db_close(&st);
    return rc < 0 ? -1 : 0;
}

static int audit_forward_set(struct store_tx *tx, const char *tenant, const char *target,
                             int64_t last_seq, struct err *e)
{
    OPEN(tenant, Q_AUDIT_FORWARD_SET);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, target);
    db_bind_int(&st, 3, last_seq);
    return db_run(&st, "audit forwarding", e);
}

static int audit_target_put(struct store_tx *tx, const char *tenant,
                            const struct audit_target_rec *r, struct err *e)
{
    return data_put_row(tx, tenant, Q_AUDIT_TARGET_PUT, &row_target, r, "audit forwarding target",
                        e);
}

static int audit_target_get(struct store_tx *tx, const char *tenant, struct audit_target_rec **out,
                            struct err *e)
{
    return data_get_of(tx, tenant, Q_AUDIT_TARGET_GET, &row_target, (void **)out,
                       "audit forwarding target", e);
}

static int audit_target_delete(struct store_tx *tx, const char *tenant, struct err *e)
{
    return data_delete_by(tx, tenant, Q_AUDIT_TARGET_DELETE, NULL, 1, "audit forwarding target", e);
}

/* Across tenants, deliberately: the forwarder's list of tenant SIEMs. */
static int audit_target_list(struct store_tx *tx, struct audit_target_rec ***out, size_t *n,
                             struct err *e)
{
    return data_read_all_across(tx, Q_AUDIT_TARGET_LIST, &row_target, (void ***)out, n,
                                "audit forwarding targets", e);
}

/* ---- time-stamping --------------------------------------------------------- */

static int tsa_unit_insert(struct store_tx *tx, const char *tenant, const struct tsa_unit_rec *r,
                           struct err *e)
{
    return data_insert_row(tx, tenant, Q_TSA_UNIT_INSERT, &row_tsa_unit, r, "TSA unit", e);
}

static int tsa_unit_update(struct store_tx *tx, const char *tenant, const struct tsa_unit_rec *r,
                           struct err *e)
{
    OPEN(tenant, Q_TSA_UNIT_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->name);
    db_bind_text(&st, 3, r->status);
    db_bind_text(&st, 4, r->policy);
    db_bind_text(&st, 5, r->policies_json);
    db_bind_text(&st, 6, r->hashes_json);
    db_bind_int(&st, 7, r->accuracy_ms);
    db_bind_int(&st, 8, r->include_chain);
    return db_run_one_change(&st, "TSA unit", e);
}

static int tsa_unit_get(struct store_tx *tx, const char *tenant, const char *name,
                        struct tsa_unit_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_TSA_UNIT_GET, name, &row_tsa_unit, (void **)out, "TSA unit",
                       e);
}

static int tsa_unit_list(struct store_tx *tx, const char *tenant, struct tsa_unit_rec ***out,
                         size_t *n, struct err *e)
{
    return data_list_of(tx, tenant, Q_TSA_UNIT_LIST, &row_tsa_unit, (void ***)out, n, "TSA units",
                        e);
}

static int tsa_token_insert(struct store_tx *tx, const char *tenant, const struct tsa_token_rec *r,
                            struct err *e)
{
    return data_insert_row(tx, tenant, Q_TSA_TOKEN_INSERT, &row_tsa_token, r, "time-stamp token",
                           e);
}

static int tsa_token_get(struct store_tx *tx, const char *tenant, const char *unit,
                         const char *serial, struct tsa_token_rec **out, struct err *e)
{
    OPEN(tenant, Q_TSA_TOKEN_GET);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, unit);
    db_bind_text(&st, 3, serial);
    return db_read_one(&st, &row_tsa_token, (void **)out, "time-stamp token", e);
}

/* Filter 0 is the imprint, 1 and 2 time's lower and upper bound. */
static int tsa_token_search(struct store_tx *tx, const char *tenant, const char *unit,
                            const struct tsa_token_query *q, struct tsa_token_rec ***out, size_t *n,
                            struct err *e)
{
    unsigned mask =
        (q->imprint != NULL ? 1u : 0) | (q->after != 0 ? 2u : 0) | (q->before != 0 ? 4u : 0);
    struct db_stmt st;
    int p = 1;

    if (db_open_search(&st, TX(tx), tenant, SEARCH_TSA_TOKEN, mask, e) != 0)
        return -1;
    db_bind_text(&st, p++, tenant);
    db_bind_text(&st, p++, unit);
    if (q->imprint != NULL)
        db_bind_text(&st, p++, q->imprint);
    if (q->after != 0)
        db_bind_int(&st, p++, q->after);
    if (q->before != 0)
        db_bind_int(&st, p++, q->before);
    data_bind_page(&st, p, q->limit, q->offset);
    return db_read_all(&st, &row_tsa_token, (void ***)out, n, "time-stamp tokens", e);
}

/* ---- leases ---------------------------------------------------------------- */

/* One upsert: the row lock it takes orders nodes racing for the same lease. */
static int lease_take(struct store_tx *tx, const char *tenant, const char *job, const char *holder,
                      int64_t now, int64_t until, struct err *e)
{
    int64_t n;
    OPEN(tenant, Q_LEASE_TAKE);

    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, job);
    db_bind_text(&st, 3, holder);
    db_bind_int(&st, 4, now);
    db_bind_int(&st, 5, until);
    if ((n = db_run_changes(&st, "lease", e)) < 0)
        return -1;
    return n == 1 ? 0 : 1;
}

static int lease_count(struct store_tx *tx, const char *tenant, const char *prefix, int64_t now,
                       int64_t *n, struct err *e)
{
    OPEN(tenant, Q_LEASE_PRUNE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, prefix);
    db_bind_int(&st, 3, now - 3600);
    if (db_run(&st, "lease", e) != 0)
        return -1;
    if (db_open(&st, TX(tx), tenant, Q_LEASE_COUNT, e) != 0)
        return -1;
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, prefix);
    db_bind_int(&st, 3, now);
    return db_read_int(&st, n, "leases", e);
}

/* ---- idempotency keys and offline imports ----------------------------------- */

static int idempotency_get(struct store_tx *tx, const char *tenant, const char *key,
                           struct idempotency_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_IDEMPOTENCY_GET, key, &row_idempotency, (void **)out,
                       "idempotency key", e);
}

/*
 * One upsert (parameters 1..7 the record, 8 `expired`): of two nodes filing
 * the same key at once, the row lock lets one win.
 */
static int idempotency_put(struct store_tx *tx, const char *tenant, const struct idempotency_rec *r,
                           int64_t expired, struct err *e)
{
    int64_t n;
    OPEN(tenant, Q_IDEMPOTENCY_PUT);

    db_bind_row(&st, &row_idempotency, r, tenant, -1);
    db_bind_int(&st, 8, expired);
    if ((n = db_run_changes(&st, "idempotency key", e)) < 0)
        return -1;
    return n == 1 ? 0 : err_set(e, ERR_CONFLICT, "idempotency key: already used");
}

static int idempotency_prune(struct store_tx *tx, const char *tenant, int64_t before, struct err *e)
{
    OPEN(tenant, Q_IDEMPOTENCY_PRUNE);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, before);
    return db_run(&st, "idempotency keys", e);
}

static int offline_import_get(struct store_tx *tx, const char *tenant, const char *source,
                              int64_t seq, struct offline_import_rec **out, struct err *e)
{
    OPEN(tenant, Q_OFFLINE_GET);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, source);
    db_bind_int(&st, 3, seq);
    return db_read_one(&st, &row_offline_import, (void **)out, "offline import", e);
}

static int offline_import_insert(struct store_tx *tx, const char *tenant,
                                 const struct offline_import_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_OFFLINE_INSERT, &row_offline_import, r, "offline import",
                           e);
}

/* ---- registration authority ---------------------------------------------- */

static int workflow_put(struct store_tx *tx, const char *tenant, const struct workflow_rec *r,
                        struct err *e)
{
    return data_put_row(tx, tenant, Q_WORKFLOW_PUT, &row_workflow, r, "workflow", e);
}

static int workflow_get(struct store_tx *tx, const char *tenant, const char *name,
                        struct workflow_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_WORKFLOW_GET, name, &row_workflow, (void **)out, "workflow",
                       e);
}

static int workflow_list(struct store_tx *tx, const char *tenant, struct workflow_rec ***out,
                         size_t *n, struct err *e)
{
    return data_list_of(tx, tenant, Q_WORKFLOW_LIST, &row_workflow, (void ***)out, n, "workflows",
                        e);
}

static int workflow_delete(struct store_tx *tx, const char *tenant, const char *name, struct err *e)
{
    return data_delete_by(tx, tenant, Q_WORKFLOW_DELETE, name, 0, "workflow", e);
}

static int request_insert(struct store_tx *tx, const char *tenant, const struct request_rec *r,
                          struct err *e)
{
    return data_insert_row(tx, tenant, Q_REQUEST_INSERT, &row_request, r, "request", e);
}

/* In a write transaction, where the dialect has Q_REQUEST_GET_LOCKED, the row stays locked. */
static int request_get(struct store_tx *tx, const char *tenant, const char *id,
                       struct request_rec **out, struct err *e)
{
    OPEN(tenant, TX(tx)->write && db_has(TX(tx), Q_REQUEST_GET_LOCKED) ? Q_REQUEST_GET_LOCKED
                                                                       : Q_REQUEST_GET);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, id);
    return db_read_one(&st, &row_request, (void **)out, "request", e);
}

static int request_update(struct store_tx *tx, const char *tenant, const struct request_rec *r,
                          struct err *e)
{
    OPEN(tenant, Q_REQUEST_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->id);
    db_bind_text(&st, 3, r->status);
    db_bind_text(&st, 4, r->approvals);
    db_bind_text(&st, 5, r->result);
    db_bind_text(&st, 6, r->reason);
    db_bind_int(&st, 7, r->decided);
    return db_run_one_change(&st, "request", e);
}

static int request_list(struct store_tx *tx, const char *tenant, const char *status,
                        const char *requester, int limit, int offset, struct request_rec ***out,
                        size_t *n, struct err *e)
{
    OPEN(tenant, Q_REQUEST_LIST);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, status);
    db_bind_text(&st, 3, requester);
    data_bind_page(&st, 4, limit, offset);
    return db_read_all(&st, &row_request, (void ***)out, n, "requests", e);
}

static int request_count(struct store_tx *tx, const char *tenant, const char *status, int64_t *n,
                         struct err *e)
{
    OPEN(tenant, Q_REQUEST_COUNT);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, status);
    return db_read_int(&st, n, "requests", e);
}

static int webhook_event_count(struct store_tx *tx, const char *tenant, int64_t *n, struct err *e)
{
    OPEN(tenant, Q_WEBHOOK_EVENT_COUNT);
    db_bind_text(&st, 1, tenant);
    return db_read_int(&st, n, "webhook events", e);
}

static int request_expire(struct store_tx *tx, const char *tenant, int64_t now, int64_t *n,
                          struct err *e)
{
    int64_t changed;
    OPEN(tenant, Q_REQUEST_EXPIRE);

    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, now);
    if ((changed = db_run_changes(&st, "requests", e)) < 0)
        return -1;
    *n = changed;
    return 0;
}

static int webhook_put(struct store_tx *tx, const char *tenant, const struct webhook_rec *r,
                       struct err *e)
{
    return data_put_row(tx, tenant, Q_WEBHOOK_PUT, &row_webhook, r, "webhook", e);
}

static int webhook_get(struct store_tx *tx, const char *tenant, struct webhook_rec **out,
                       struct err *e)
{
    return data_get_of(tx, tenant, Q_WEBHOOK_GET, &row_webhook, (void **)out, "webhook", e);
}

static int webhook_delete(struct store_tx *tx, const char *tenant, struct err *e)
{
    return data_delete_by(tx, tenant, Q_WEBHOOK_DELETE, NULL, 1, "webhook", e);
}

static int webhook_event_insert(struct store_tx *tx, const char *tenant,
                                const struct webhook_event_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_WEBHOOK_EVENT_INSERT, &row_webhook_event, r,
                           "webhook event", e);
}

static int webhook_event_due(struct store_tx *tx, const char *tenant, int64_t now, int limit,
                             struct webhook_event_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_WEBHOOK_EVENT_DUE);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, now);
    db_bind_int(&st, 3, data_limit(limit));
    return db_read_all(&st, &row_webhook_event, (void ***)out, n, "webhook events", e);
}

static int webhook_event_delete(struct store_tx *tx, const char *tenant, const char *id,
                                struct err *e)
{
    return data_delete_by(tx, tenant, Q_WEBHOOK_EVENT_DELETE, id, 0, "webhook event", e);
}

static int webhook_event_update(struct store_tx *tx, const char *tenant,
                                const struct webhook_event_rec *r, struct err *e)
{
    OPEN(tenant, Q_WEBHOOK_EVENT_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->id);
    db_bind_int(&st, 3, r->attempts);
    db_bind_int(&st, 4, r->next_attempt);
    db_bind_text(&st, 5, r->status);
    return db_run_one_change(&st, "webhook event", e);
}

/* ---- the backends' tables ------------------------------------------------- */

/* The data calls, the same in every backend's table. */
/* clang-format off */
#define DATA_OPS \
    .tenant_create = tenant_create, \
    .tenant_get = tenant_get, \
    .tenant_list = tenant_list, \
    .tenant_update = tenant_update, \
    .tenant_purge = tenant_purge, \
    .ca_insert = ca_insert, \
    .ca_update = ca_update, \
    .ca_get = ca_get, \
    .ca_list = ca_list, \
    .profile_put = profile_put, \
    .profile_get = profile_get, \
    .profile_list = profile_list, \
    .entity_insert = entity_insert, \
    .entity_update = entity_update, \
    .entity_get = entity_get, \
    .entity_search = entity_search, \
    .cert_insert = cert_insert, \
    .cert_get = cert_get, \
    .cert_count_since = cert_count_since, \
    .cert_set_status = cert_set_status, \
    .cert_search = cert_search, \
    .cert_total = cert_total, \
    .report = data_report, \
    .cert_revoked = cert_revoked, \
    .cert_crl_entries = cert_crl_entries, \
    .crl_next_number = crl_next_number, \
    .crl_insert = crl_insert, \
    .crl_latest = crl_latest, \
    .crl_latest_scope = crl_latest_scope, \
    .crl_prune = crl_prune, \
    .ocsp_responder_get = ocsp_responder_get, \
    .ocsp_responder_put = ocsp_responder_put, \
    .ocsp_get = ocsp_get, \
    .ocsp_put = ocsp_put, \
    .ocsp_due = ocsp_due, \
    .token_insert = token_insert, \
    .token_find = token_find, \
    .token_list = token_list, \
    .token_delete = token_delete, \
    .token_revoke = token_revoke, \
    .principal_insert = principal_insert, \
    .principal_get = principal_get, \
    .principal_list = principal_list, \
    .principal_by_cert = principal_by_cert, \
    .principal_set_disabled = principal_set_disabled, \
    .client_ca_insert = client_ca_insert, \
    .client_ca_list = client_ca_list, \
    .client_ca_delete = client_ca_delete, \
    .binding_insert = binding_insert, \
    .binding_delete = binding_delete, \
    .binding_list = binding_list, \
    .audit_last = audit_last, \
    .audit_insert = audit_insert, \
    .audit_list = audit_list, \
    .audit_key_get = audit_key_get, \
    .audit_key_insert = audit_key_insert, \
    .audit_checkpoint_insert = audit_checkpoint_insert, \
    .audit_checkpoint_last = audit_checkpoint_last, \
    .audit_checkpoint_list = audit_checkpoint_list, \
    .audit_forward_get = audit_forward_get, \
    .audit_forward_set = audit_forward_set, \
    .audit_target_put = audit_target_put, \
    .audit_target_get = audit_target_get, \
    .audit_target_delete = audit_target_delete, \
    .audit_target_list = audit_target_list, \
    .tsa_unit_insert = tsa_unit_insert, \
    .tsa_unit_get = tsa_unit_get, \
    .tsa_unit_update = tsa_unit_update, \
    .tsa_unit_list = tsa_unit_list, \
    .tsa_token_insert = tsa_token_insert, \
    .tsa_token_get = tsa_token_get, \
    .tsa_token_search = tsa_token_search, \
    .workflow_put = workflow_put, \
    .workflow_get = workflow_get, \
    .workflow_list = workflow_list, \
    .workflow_delete = workflow_delete, \
    .request_insert = request_insert, \
    .request_get = request_get, \
    .request_update = request_update, \
    .request_list = request_list, \
    .request_expire = request_expire, \
    .request_count = request_count, \
    .webhook_put = webhook_put, \
    .webhook_get = webhook_get, \
    .webhook_delete = webhook_delete, \
    .webhook_event_insert = webhook_event_insert, \
    .webhook_event_due = webhook_event_due, \
    .webhook_event_count = webhook_event_count, \
    .webhook_event_delete = webhook_event_delete, \
    .webhook_event_update = webhook_event_update, \
    .lease_take = lease_take, \
    .lease_count = lease_count, \
    .idempotency_get = idempotency_get, \
    .idempotency_put = idempotency_put, \
    .idempotency_prune = idempotency_prune, \
    .offline_import_get = offline_import_get, \
    .offline_import_insert = offline_import_insert, \
    .acme_endpoint_insert = data_acme_endpoint_insert, \
    .acme_endpoint_update = data_acme_endpoint_update, \
    .acme_endpoint_get = data_acme_endpoint_get, \
    .acme_endpoint_list = data_acme_endpoint_list, \
    .acme_eab_insert = data_acme_eab_insert, \
    .acme_eab_get = data_acme_eab_get, \
    .acme_eab_update = data_acme_eab_update, \
    .acme_eab_list = data_acme_eab_list, \
    .acme_account_insert = data_acme_account_insert, \
    .acme_account_get = data_acme_account_get, \
    .acme_account_by_key = data_acme_account_by_key, \
    .acme_account_update = data_acme_account_update, \
    .acme_account_by_eab = data_acme_account_by_eab, \
    .acme_order_insert = data_acme_order_insert, \
    .acme_order_get = data_acme_order_get, \
    .acme_order_update = data_acme_order_update, \
    .acme_order_list = data_acme_order_list, \
    .acme_authz_insert = data_acme_authz_insert, \
    .acme_authz_get = data_acme_authz_get, \
    .acme_authz_update = data_acme_authz_update, \
    .acme_authz_reusable = data_acme_authz_reusable, \
    .acme_authz_stalled = data_acme_authz_stalled, \
    .acme_nonce_use = data_acme_nonce_use, \
    .acme_prune = data_acme_prune, \
    .acme_nonce_prune = data_acme_nonce_prune, \
    .secret_get_or_put = data_secret_get_or_put, \
    .renewal_window_put = data_renewal_window_put, \
    .renewal_window_get = data_renewal_window_get, \
    .enroll_endpoint_insert = data_enroll_endpoint_insert, \
    .enroll_endpoint_update = data_enroll_endpoint_update, \
    .enroll_endpoint_get = data_enroll_endpoint_get, \
    .enroll_endpoint_list = data_enroll_endpoint_list, \
    .enroll_credential_insert = data_enroll_credential_insert, \
    .enroll_credential_get = data_enroll_credential_get, \
    .enroll_credential_update = data_enroll_credential_update, \
    .enroll_credential_list = data_enroll_credential_list, \
    .cmp_endpoint_insert = data_cmp_endpoint_insert, \
    .cmp_endpoint_update = data_cmp_endpoint_update, \
    .cmp_endpoint_get = data_cmp_endpoint_get, \
    .cmp_endpoint_list = data_cmp_endpoint_list, \
    .cmp_secret_insert = data_cmp_secret_insert, \
    .cmp_secret_get = data_cmp_secret_get, \
    .cmp_secret_update = data_cmp_secret_update, \
    .cmp_secret_list = data_cmp_secret_list, \
    .cmp_transaction_insert = data_cmp_transaction_insert, \
    .cmp_transaction_get = data_cmp_transaction_get, \
    .cmp_transaction_update = data_cmp_transaction_update, \
    .cmp_transaction_expired = data_cmp_transaction_expired, \
    .cmp_nonce_use = data_cmp_nonce_use, \
    .cmp_prune = data_cmp_prune, \
    .notice_settings_get = data_notice_settings_get, \
    .notice_settings_put = data_notice_settings_put, \
    .notice_due = data_notice_due, \
    .notice_claim = data_notice_claim, \
    .notice_mark = data_notice_mark, \
    .notice_pending = data_notice_pending, \
    .notice_list = data_notice_list, \
    .notice_ca_due = data_notice_ca_due
/* clang-format on */

const struct store_ops store_sqlite_ops = {
    .scheme = "sqlite:",
    .open = sqlite_open,
    .close = db_store_close,
    .ping = sqlite_ping,
    .set_max_connections = db_store_set_max_connections,
    .schema_version = db_store_schema_version,
    .begin = sqlite_begin,
    .begin_read = sqlite_begin_read,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .savepoint = sqlite_savepoint,
    .savepoint_release = sqlite_savepoint_release,
    .savepoint_rollback = sqlite_savepoint_rollback,
    DATA_OPS,
};

/*
 * "postgres" matches both URL schemes libpq knows, postgresql:// and
 * postgres://; pg_open checks which.
 */
const struct store_ops store_pg_ops = {
    .scheme = "postgres",
    .open = pg_open,
    .close = db_store_close,
    .ping = pg_ping,
    .set_max_connections = db_store_set_max_connections,
    .schema_version = db_store_schema_version,
    .begin = pg_begin,
    .begin_read = pg_begin_read,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .savepoint_release = pg_savepoint_release,
    .savepoint_rollback = pg_savepoint_rollback,
    DATA_OPS,
};
