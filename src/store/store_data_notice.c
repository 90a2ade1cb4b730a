/*
 * store_data_notice.c — the expiry notices' rows (issue 21): a tenant's
 * settings, the scheduler's due queries and the notices decided.
 */
#include "store/store_data.h"

#include <string.h>

int data_notice_settings_get(struct store_tx *tx, const char *tenant,
                             struct notice_settings_rec **out, struct err *e)
{
    return data_get_of(tx, tenant, Q_NOTICE_SETTINGS_GET, &row_notice_settings, (void **)out,
                       "notice settings", e);
}

int data_notice_settings_put(struct store_tx *tx, const char *tenant,
                             const struct notice_settings_rec *r, struct err *e)
{
    return data_put_row(tx, tenant, Q_NOTICE_SETTINGS_PUT, &row_notice_settings, r,
                        "notice settings", e);
}

/* The parameters of Q_NOTICE_DUE and Q_NOTICE_CA_DUE. */
static void notice_due_bind(struct db_stmt *st, const char *tenant, int64_t now, const int *days,
                            int n, int limit)
{
    db_bind_text(st, 1, tenant);
    db_bind_int(st, 2, now);
    for (int i = 0; i < NOTICE_THRESHOLDS_MAX; i++)
        db_bind_int(st, 3 + i, (int64_t)days[i < n ? i : n - 1] * 86400);
    db_bind_int(st, 11, data_limit(limit));
}

int data_notice_due(struct store_tx *tx, const char *tenant, int64_t now, const int *days, int n,
                    int limit, struct cert_rec ***out, size_t *count, struct err *e)
{
    if (n < 1 || n > NOTICE_THRESHOLDS_MAX)
        return err_set(e, ERR_INVALID, "notice thresholds: 1 to %d", NOTICE_THRESHOLDS_MAX);
    OPEN(tenant, Q_NOTICE_DUE);
    notice_due_bind(&st, tenant, now, days, n, limit);
    return db_read_all(&st, &row_cert, (void ***)out, count, "due notices", e);
}

int data_notice_ca_due(struct store_tx *tx, const char *tenant, int64_t now, const int *days, int n,
                       int limit, struct ca_rec ***out, size_t *count, struct err *e)
{
    if (n < 1 || n > NOTICE_THRESHOLDS_MAX)
        return err_set(e, ERR_INVALID, "notice thresholds: 1 to %d", NOTICE_THRESHOLDS_MAX);
    OPEN(tenant, Q_NOTICE_CA_DUE);
    notice_due_bind(&st, tenant, now, days, n, limit);
    return db_read_all(&st, &row_ca, (void ***)out, count, "due CA notices", e);
}

int data_notice_mark(struct store_tx *tx, const char *tenant, const struct notice_rec *r,
                     struct err *e)
{
    OPEN(tenant, Q_NOTICE_MARK);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->serial);
    db_bind_int(&st, 3, r->threshold);
    db_bind_text(&st, 4, r->state);
    db_bind_int(&st, 5, r->attempts);
    db_bind_int(&st, 6, r->next_try);
    db_bind_int(&st, 7, r->sent_at);
    return db_run_one_change(&st, "notice", e);
}

int data_notice_list(struct store_tx *tx, const char *tenant, const char *state, int limit,
                     int offset, struct notice_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_NOTICE_LIST);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, state);
    data_bind_page(&st, 3, limit, offset);
    return db_read_all(&st, &row_notice, (void ***)out, n, "notices", e);
}

int data_notice_pending(struct store_tx *tx, const char *tenant, int64_t now, int limit,
                        struct notice_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_NOTICE_PENDING);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, now);
    db_bind_int(&st, 3, data_limit(limit));
    return db_read_all(&st, &row_notice, (void ***)out, n, "pending notices", e);
}

int data_notice_claim(struct store_tx *tx, const char *tenant, const char *serial,
                      int64_t threshold, const char *kind, const char *state, int64_t now,
                      struct err *e)
{
    OPEN(tenant, Q_NOTICE_CLAIM);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, serial);
    db_bind_int(&st, 3, threshold);
    db_bind_text(&st, 4, kind);
    db_bind_text(&st, 5, state);
    db_bind_int(&st, 6, now);
    db_bind_int(&st, 7, strcmp(state, "sent") == 0 ? now : 0);
    return db_run_insert(&st, "notice", e);
}
