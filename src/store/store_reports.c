/*
 * store_reports.c — reports computed by the database (GROUP BY in the
 * Q_REPORT_* queries of store_queries.c): what comes back is one row per
 * group, never the certificates themselves.
 */
#include "store/store_data.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    enum query_id q;
    const char *types;
} reports[STORE_REPORT_COUNT] = {
    [STORE_REPORT_CERTS] = {Q_REPORT_CERTS, "ttti"},
    [STORE_REPORT_ISSUED_DAILY] = {Q_REPORT_ISSUED_DAILY, "ii"},
    [STORE_REPORT_REVOKED_DAILY] = {Q_REPORT_REVOKED_DAILY, "ii"},
    [STORE_REPORT_EXPIRING] = {Q_REPORT_EXPIRING, "ttii"},
    [STORE_REPORT_REVOCATIONS] = {Q_REPORT_REVOCATIONS, "tii"},
    [STORE_REPORT_CRL_FRESHNESS] = {Q_REPORT_CRL_FRESHNESS, "tiii"},
    [STORE_REPORT_OCSP_FRESHNESS] = {Q_REPORT_OCSP_FRESHNESS, "tiiii"},
    [STORE_REPORT_APPROVALS] = {Q_REPORT_APPROVALS, "ttiiii"},
};

#define REPORT_ROWS_MAX 100000 /* groups: far more than any report of a tenant has */

void report_rows_free(struct report_rows *r)
{
    size_t cells = r->nrows * (size_t)r->ncols;

    for (size_t i = 0; r->text != NULL && i < cells; i++)
        free(r->text[i]);
    free(r->text);
    free(r->num);
    memset(r, 0, sizeof(*r));
}

int data_report(struct store_tx *tx, const char *tenant, enum store_report r, int64_t from,
                int64_t to, const char *ca, int64_t now, struct report_rows *out, struct err *e)
{
    const struct db_driver *drv = TX(tx)->drv;
    struct report_rows rows = {0};
    size_t cap = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((unsigned)r >= STORE_REPORT_COUNT)
        return err_set(e, ERR_INVALID, "no such report");
    rows.types = reports[r].types;
    rows.ncols = (int)strlen(rows.types);
    OPEN(tenant, reports[r].q);
    db_bind_text(&st, 1, tenant);
    db_bind_int(&st, 2, from);
    db_bind_int(&st, 3, to);
    db_bind_text(&st, 4, ca != NULL ? ca : "");
    db_bind_int(&st, 5, now);
    while ((rc = db_step(&st, "report", e)) > 0) {
        size_t base = rows.nrows * (size_t)rows.ncols;
        if (rows.nrows == REPORT_ROWS_MAX) {
            db_close(&st);
            report_rows_free(&rows);
            return err_set(e, ERR_TOO_LARGE, "report: more than %d rows", REPORT_ROWS_MAX);
        }
        if (rows.nrows == cap) {
            cap = cap ? cap * 2 : 16;
            rows.text = xrealloc(rows.text, cap * (size_t)rows.ncols * sizeof(*rows.text));
            rows.num = xrealloc(rows.num, cap * (size_t)rows.ncols * sizeof(*rows.num));
        }
        for (int c = 0; c < rows.ncols; c++) {
            const char *t = rows.types[c] == 't' ? drv->read_text(&st, c) : NULL;
            rows.text[base + (size_t)c] = rows.types[c] == 't' ? xstrdup(t ? t : "") : NULL;
            rows.num[base + (size_t)c] = rows.types[c] == 'i' ? drv->read_int64(&st, c) : 0;
        }
        rows.nrows++;
    }
    db_close(&st);
    if (rc < 0) {
        report_rows_free(&rows);
        return -1;
    }
    *out = rows;
    return 0;
}
