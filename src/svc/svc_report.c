/*
 * svc_report.c — a tenant's reports (issue 21, point 3): certificates by
 * status, profile and CA; issued and revoked per day; expiring; revocations by
 * reason; CRL and OCSP freshness; approvals by outcome and time to decision.
 * The database groups and counts (store_reports.c); this file names the
 * columns, merges the two halves of "daily" and "freshness" and writes times
 * in RFC 3339.  Reading a report changes nothing and is not audited.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/profile.h"

#define DAY 86400

static const char *const report_names[] = {"certificates", "daily",     "expiring",
                                           "revocations",  "freshness", "approvals"};

int svc_report_known(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(report_names); i++)
        if (strcmp(report_names[i], name) == 0)
            return 1;
    return 0;
}

static json_t *day_json(int64_t t)
{
    char buf[32];

    time_format(t, buf, sizeof(buf));
    buf[10] = '\0'; /* YYYY-MM-DD */
    return json_string(buf);
}

static int key_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int64_t num(const struct report_rows *r, size_t row, int col)
{
    return r->num[row * (size_t)r->ncols + (size_t)col];
}

static const char *text(const struct report_rows *r, size_t row, int col)
{
    return r->text[row * (size_t)r->ncols + (size_t)col];
}

/* Runs report k of the store into *rows, in tx. */
static int rows_of(struct store_tx *tx, const char *tenant, enum store_report k,
                   const struct svc_report_params *p, struct report_rows *rows, struct err *e)
{
    return store_report(tx, tenant, k, p->from, p->to, p->ca ? p->ca : "", time_now(), rows, e);
}

/* The object of row i of day-counting rows in by_day (made if new), counting under member. */
static void day_count(json_t *by_day, int64_t day, const char *member, int64_t count)
{
    char key[32];
    json_t *o;

    snprintf(key, sizeof(key), "%lld", (long long)day);
    if ((o = json_object_get(by_day, key)) == NULL) {
        o = json_pack("{s:o, s:i, s:i}", "day", day_json(day), "issued", 0, "revoked", 0);
        json_object_set_new(by_day, key, o);
    }
    json_object_set_new(o, member, json_integer(count));
}

static int daily(struct store_tx *tx, const char *tenant, const struct svc_report_params *p,
                 json_t *rows, struct err *e)
{
    struct report_rows issued = {0}, revoked = {0};
    json_t *by_day = json_object(), *v;
    const char *key;
    int rc = -1;

    if (rows_of(tx, tenant, STORE_REPORT_ISSUED_DAILY, p, &issued, e) == 0 &&
        rows_of(tx, tenant, STORE_REPORT_REVOKED_DAILY, p, &revoked, e) == 0) {
        for (size_t i = 0; i < issued.nrows; i++)
            day_count(by_day, num(&issued, i, 0), "issued", num(&issued, i, 1));
        for (size_t i = 0; i < revoked.nrows; i++)
            day_count(by_day, num(&revoked, i, 0), "revoked", num(&revoked, i, 1));
        rc = 0;
    }
    /* Keys are Unix days of equal width in digits for years 2001..2286: text order = time. */
    {
        const char **keys = xcalloc(json_object_size(by_day) + 1, sizeof(*keys));
        size_t n = 0;
        json_object_foreach(by_day, key, v) keys[n++] = key;
        qsort(keys, n, sizeof(*keys), key_order);
        for (size_t i = 0; i < n; i++)
            json_array_append(rows, json_object_get(by_day, keys[i]));
        free(keys);
    }
    json_decref(by_day);
    report_rows_free(&issued);
    report_rows_free(&revoked);
    return rc;
}

static int freshness(struct store_tx *tx, const char *tenant, const struct svc_report_params *p,
                     json_t *rows, struct err *e)
{
    struct report_rows crl = {0}, ocsp = {0};
    json_t *by_ca = json_object(), *v;
    const char *ca;
    int64_t now = time_now();
    int rc = -1;

    if (rows_of(tx, tenant, STORE_REPORT_CRL_FRESHNESS, p, &crl, e) == 0 &&
        rows_of(tx, tenant, STORE_REPORT_OCSP_FRESHNESS, p, &ocsp, e) == 0) {
        for (size_t i = 0; i < crl.nrows; i++)
            json_object_set_new(
                by_ca, text(&crl, i, 0),
                json_pack("{s:s, s:I, s:o, s:o, s:I, s:I, s:i, s:i, s:n, s:n}", "ca",
                          text(&crl, i, 0), "crl_number", (json_int_t)num(&crl, i, 1),
                          "crl_this_update", svc_time_json(num(&crl, i, 2)), "crl_next_update",
                          svc_time_json(num(&crl, i, 3)), "crl_age_seconds",
                          (json_int_t)(now - num(&crl, i, 2)), "crl_seconds_left",
                          (json_int_t)(num(&crl, i, 3) - now), "ocsp_responses", 0, "ocsp_unsigned",
                          0, "ocsp_soonest_next_update", "ocsp_oldest_this_update"));
        for (size_t i = 0; i < ocsp.nrows; i++) {
            json_t *o = json_object_get(by_ca, text(&ocsp, i, 0));
            if (o == NULL) {
                o = json_pack("{s:s, s:n, s:n, s:n, s:n, s:n}", "ca", text(&ocsp, i, 0),
                              "crl_number", "crl_this_update", "crl_next_update", "crl_age_seconds",
                              "crl_seconds_left");
                json_object_set_new(by_ca, text(&ocsp, i, 0), o);
            }
            json_object_set_new(o, "ocsp_responses", json_integer(num(&ocsp, i, 1)));
            json_object_set_new(o, "ocsp_unsigned", json_integer(num(&ocsp, i, 2)));
            json_object_set_new(o, "ocsp_soonest_next_update", svc_time_json(num(&ocsp, i, 3)));
            json_object_set_new(o, "ocsp_oldest_this_update", svc_time_json(num(&ocsp, i, 4)));
        }
        rc = 0;
    }
    json_object_foreach(by_ca, ca, v) json_array_append(rows, v);
    json_decref(by_ca);
    report_rows_free(&crl);
    report_rows_free(&ocsp);
    return rc;
}

/* The simple ones: one store report, its rows named. */
static int simple(struct store_tx *tx, const char *tenant, const char *name,
                  const struct svc_report_params *p, json_t *rows, struct err *e)
{
    struct report_rows r = {0};
    enum store_report k = strcmp(name, "certificates") == 0  ? STORE_REPORT_CERTS
                          : strcmp(name, "expiring") == 0    ? STORE_REPORT_EXPIRING
                          : strcmp(name, "revocations") == 0 ? STORE_REPORT_REVOCATIONS
                                                             : STORE_REPORT_APPROVALS;

    if (rows_of(tx, tenant, k, p, &r, e) != 0)
        return -1;
    for (size_t i = 0; i < r.nrows; i++) {
        json_t *o = NULL;
        switch (k) {
        case STORE_REPORT_CERTS:
            o = json_pack("{s:s, s:s, s:s, s:I}", "ca", text(&r, i, 0), "profile", text(&r, i, 1),
                          "status", text(&r, i, 2), "count", (json_int_t)num(&r, i, 3));
            break;
        case STORE_REPORT_EXPIRING:
            o = json_pack("{s:o, s:s, s:s, s:I}", "day", day_json(num(&r, i, 2)), "ca",
                          text(&r, i, 0), "profile", text(&r, i, 1), "count",
                          (json_int_t)num(&r, i, 3));
            break;
        case STORE_REPORT_REVOCATIONS:
            o = json_pack("{s:s, s:s, s:I}", "ca", text(&r, i, 0), "reason",
                          crl_reason_name((int)num(&r, i, 1)), "count", (json_int_t)num(&r, i, 2));
            break;
        default: { /* approvals */
            int64_t decided = num(&r, i, 4);
            o = json_pack("{s:s, s:s, s:I, s:I, s:o, s:I}", "kind", text(&r, i, 0), "status",
                          text(&r, i, 1), "count", (json_int_t)num(&r, i, 2), "decided",
                          (json_int_t)decided, "mean_seconds_to_decision",
                          decided > 0 ? json_integer(num(&r, i, 3) / decided) : json_null(),
                          "max_seconds_to_decision", (json_int_t)num(&r, i, 5));
            break;
        }
        }
        json_array_append_new(rows, o);
    }
    report_rows_free(&r);
    return 0;
}

/* The columns of each report, in order (for CSV and tables). */
static const char *report_columns(const char *name)
{
    return strcmp(name, "certificates") == 0  ? "ca profile status count"
           : strcmp(name, "daily") == 0       ? "day issued revoked"
           : strcmp(name, "expiring") == 0    ? "day ca profile count"
           : strcmp(name, "revocations") == 0 ? "ca reason count"
           : strcmp(name, "freshness") == 0
               ? "ca crl_number crl_this_update crl_next_update crl_age_seconds crl_seconds_left "
                 "ocsp_responses ocsp_unsigned ocsp_soonest_next_update ocsp_oldest_this_update"
               : "kind status count decided mean_seconds_to_decision max_seconds_to_decision";
}

int svc_report(struct svc *s, const struct actor *a, const char *tenant, const char *name,
               const struct svc_report_params *given, json_t **out, struct err *e)
{
    struct svc_report_params p = *given;
    int64_t now = time_now();
    json_t *rows, *columns;
    struct store_tx *tx;
    int rc;

    (void)a; /* the route's permission (report.read) is the check: a report names no person */
    if (!svc_report_known(name))
        return err_set(e, ERR_NOT_FOUND,
                       "no report %s (certificates, daily, expiring, revocations, freshness, "
                       "approvals)",
                       name);
    if (strcmp(name, "expiring") == 0) { /* notAfter in [now, now + days) */
        if (p.days < 1 || p.days > 3650)
            return err_set(e, ERR_INVALID, "days: 1 to 3650");
        p.from = now;
        p.to = now + (int64_t)p.days * DAY;
    } else {
        if (p.to == 0)
            p.to = now + 1;
        if (p.from == 0)
            p.from = p.to - 30 * DAY;
        if (p.from >= p.to)
            return err_set(e, ERR_INVALID, "from must be before to");
    }
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rows = json_array();
    rc = strcmp(name, "daily") == 0       ? daily(tx, tenant, &p, rows, e)
         : strcmp(name, "freshness") == 0 ? freshness(tx, tenant, &p, rows, e)
                                          : simple(tx, tenant, name, &p, rows, e);
    store_rollback(tx);
    if (rc != 0) {
        json_decref(rows);
        return -1;
    }
    columns = json_array();
    {
        char *list = xstrdup(report_columns(name)), *save = NULL;
        for (char *c = strtok_r(list, " ", &save); c; c = strtok_r(NULL, " ", &save))
            json_array_append_new(columns, json_string(c));
        free(list);
    }
    *out = json_pack("{s:s, s:s, s:o, s:o, s:s?, s:o, s:o}", "report", name, "tenant", tenant,
                     "from", svc_time_json(p.from), "to", svc_time_json(p.to), "ca", p.ca,
                     "columns", columns, "rows", rows);
    return 0;
}
