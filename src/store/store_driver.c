/*
 * store_driver.c — query texts from templates, and statements run and read
 * through a backend's driver (store_driver.h): the row mapping's one use of
 * the drivers.
 */
#include "store/store_driver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- query texts ------------------------------------------------------------ */

static void append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

static void append_param(struct buf *b, char param, int n)
{
    char num[16];

    snprintf(num, sizeof(num), "%c%d", param, n);
    append_str(b, num);
}

/* Appends the expansion of "{name}" or "{?name}" (the text between the braces). */
static void append_row(struct buf *b, const char *name, size_t len, char param)
{
    int params = len > 0 && name[0] == '?';
    const struct row_type *t = row_type_find(name + params, len - params);

    if (t == NULL) {
        fprintf(stderr, "store: a query names an unknown record type {%.*s}\n", (int)len, name);
        abort(); /* a programming error: the query tables are fixed */
    }
    for (int i = 0; i < t->nfields; i++) {
        if (i > 0)
            append_str(b, ", ");
        if (params)
            append_param(b, param, i + 1);
        else
            append_str(b, t->fields[i].column);
    }
}

/*
 * Appends template t: {name} and {?name} expanded, ?<n> written as parameter
 * n, and each other ? replaced by the next parameter, *next.
 */
static void append_template(struct buf *b, const char *t, char param, int *next)
{
    const char *end;

    while (*t != '\0') {
        if (*t == '{' && (end = strchr(t, '}')) != NULL) {
            append_row(b, t + 1, (size_t)(end - t - 1), param);
            t = end + 1;
        } else if (*t == '?' && t[1] >= '0' && t[1] <= '9') {
            buf_append(b, &param, 1);
            t++;
        } else if (*t == '?') {
            append_param(b, param, (*next)++);
            t++;
        } else {
            size_t n = strcspn(t + 1, "{?") + 1; /* up to the next template mark */

            buf_append(b, t, n);
            t += n;
        }
    }
}

static char *buf_text(struct buf *b)
{
    buf_append(b, "", 1);
    return (char *)b->data;
}

/* Dialect d's query texts, expanded. */
static char **queries_expand(const struct db_dialect *d)
{
    char **queries = xcalloc(Q_COUNT, sizeof(*queries));

    for (int q = 0; q < Q_COUNT; q++) {
        const char *t = d->queries[q] != NULL ? d->queries[q] : store_queries[q];
        struct buf b = {0};
        int next = 1;

        if (t == NULL)
            continue;
        append_template(&b, t, d->param, &next);
        queries[q] = buf_text(&b);
    }
    return queries;
}

/* Each dialect's expanded texts, made once per process and kept until it exits. */
struct expanded {
    const struct db_dialect *dialect;
    char **queries;
    struct expanded *next;
};
static struct expanded *expanded;
static pthread_mutex_t expanded_lock = PTHREAD_MUTEX_INITIALIZER;

char *const *db_queries(const struct db_dialect *d)
{
    struct expanded *x;

    pthread_mutex_lock(&expanded_lock);
    for (x = expanded; x != NULL && x->dialect != d; x = x->next)
        ;
    if (x == NULL) {
        x = xcalloc(1, sizeof(*x));
        x->dialect = d;
        x->queries = queries_expand(d);
        x->next = expanded;
        expanded = x;
    }
    pthread_mutex_unlock(&expanded_lock);
    return x->queries;
}

char *db_search_text(const struct db_dialect *d, enum search_id s, unsigned mask)
{
    const struct db_search *search = &store_searches[s];
    struct buf b = {0};
    int next = 1;

    append_template(&b, search->head, d->param, &next);
    for (int i = 0; i < search->nfilters; i++)
        if (mask & (1u << i)) {
            append_str(&b, " AND (");
            append_template(&b, d->filters[s][i], d->param, &next);
            append_str(&b, ")");
        }
    append_template(&b, search->tail, d->param, &next);
    return buf_text(&b);
}

/* ---- stores ------------------------------------------------------------------ */

struct store *db_store_open(const struct store_ops *ops, const struct db_dialect *d,
                            const struct db_pool_class *cls, const char *target,
                            int (*setup)(struct db_store *s, struct db_conn *c, struct err *e),
                            struct err *e)
{
    struct db_store *s = xcalloc(1, sizeof(*s));
    struct db_conn *c;
    int rc;

    s->base.ops = ops;
    s->queries = db_queries(d);
    db_pool_init(&s->pool, cls, target);
    if ((c = db_pool_take(&s->pool, e)) == NULL) {
        db_store_close(&s->base);
        return NULL;
    }
    rc = setup(s, c, e);
    db_pool_give(&s->pool, c);
    if (rc != 0) {
        db_store_close(&s->base);
        return NULL;
    }
    return &s->base;
}

void db_store_close(struct store *base)
{
    struct db_store *s = (struct db_store *)base;

    db_pool_destroy(&s->pool);
    free(s);
}

void db_store_set_max_connections(struct store *s, int n)
{
    db_pool_set_max(&((struct db_store *)s)->pool, n);
}

int db_store_schema_version(struct store *s)
{
    return ((struct db_store *)s)->schema_version;
}

/* ---- statements ------------------------------------------------------------- */

static void stmt_init(struct db_stmt *st, struct db_tx *tx)
{
    st->tx = tx;
    st->handle = NULL;
    st->sql = NULL;
    st->own = NULL;
    st->row = -1;
    st->adhoc = 0;
}

int db_open(struct db_stmt *st, struct db_tx *tx, const char *tenant, enum query_id q,
            struct err *e)
{
    if (tx->queries[q] == NULL)
        abort(); /* a programming error: an optional query is used where db_has says not */
    stmt_init(st, tx);
    return tx->drv->open(st, tenant, q, e);
}

int db_open_search(struct db_stmt *st, struct db_tx *tx, const char *tenant, enum search_id s,
                   unsigned mask, struct err *e)
{
    stmt_init(st, tx);
    return tx->drv->open_search(st, tenant, s, mask, e);
}

int db_open_text(struct db_stmt *st, struct db_tx *tx, const char *tenant, const char *sql,
                 struct err *e)
{
    stmt_init(st, tx);
    return tx->drv->open_text(st, tenant, sql, e);
}

void db_bind_row(struct db_stmt *st, const struct row_type *t, const void *rec, const char *tenant,
                 int n)
{
    if (n < 0 || n > t->nfields)
        n = t->nfields;
    for (int i = 0; i < n; i++) {
        const struct field *f = &t->fields[i];
        const void *m = row_member(rec, f);

        if (i == 0 && tenant != NULL) {
            db_bind_text(st, 1, tenant);
            continue;
        }
        switch (f->type) {
        case FIELD_TEXT:
            db_bind_text(st, i + 1, *(char *const *)m != NULL ? *(char *const *)m : f->fallback);
            break;
        case FIELD_INT64:
            db_bind_int(st, i + 1, *(const int64_t *)m);
            break;
        case FIELD_INT:
            db_bind_int(st, i + 1, *(const int *)m);
            break;
        case FIELD_BLOB:
            db_bind_blob(st, i + 1, *(unsigned char *const *)m,
                         *(const size_t *)((const unsigned char *)rec + f->len_offset));
            break;
        }
    }
}

/* ---- running ------------------------------------------------------------------ */

int64_t db_run_changes(struct db_stmt *st, const char *what, struct err *e)
{
    int64_t n = -1;

    if (db_step(st, what, e) >= 0)
        n = st->tx->drv->changes(st);
    db_close(st);
    return n;
}

int db_run(struct db_stmt *st, const char *what, struct err *e)
{
    int rc = db_step(st, what, e) >= 0 ? 0 : -1;

    db_close(st);
    return rc;
}

int db_run_one_change(struct db_stmt *st, const char *what, struct err *e)
{
    int64_t n = db_run_changes(st, what, e);

    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_NOT_FOUND, "%s: not found", what) : 0;
}

int db_run_insert(struct db_stmt *st, const char *what, struct err *e)
{
    int64_t n = db_run_changes(st, what, e);

    if (n < 0)
        return -1;
    return n == 0 ? err_set(e, ERR_CONFLICT, "%s: already exists", what) : 0;
}

/* ---- reading ---------------------------------------------------------------- */

void *db_read_row(struct db_stmt *st, const struct row_type *t)
{
    const struct db_driver *drv = st->tx->drv;
    unsigned char *rec = xcalloc(1, t->size);

    for (int i = 0; i < t->nfields; i++) {
        const struct field *f = &t->fields[i];
        void *m = row_member(rec, f);
        const char *s;

        switch (f->type) {
        case FIELD_TEXT:
            s = drv->read_text(st, i);
            *(char **)m = s != NULL ? xstrdup(s) : NULL;
            break;
        case FIELD_INT64:
            *(int64_t *)m = drv->read_int64(st, i);
            break;
        case FIELD_INT:
            *(int *)m = (int)drv->read_int64(st, i);
            break;
        case FIELD_BLOB:
            *(unsigned char **)m = drv->read_blob(st, i, (size_t *)(rec + f->len_offset));
            break;
        }
    }
    return rec;
}

int db_read_one(struct db_stmt *st, const struct row_type *t, void **out, const char *what,
                struct err *e)
{
    int rc = db_step(st, what, e);

    if (rc > 0)
        *out = db_read_row(st, t);
    db_close(st);
    if (rc == 0)
        return err_set(e, ERR_NOT_FOUND, "%s: not found", what);
    return rc > 0 ? 0 : -1;
}

int db_read_all(struct db_stmt *st, const struct row_type *t, void ***out, size_t *n,
                const char *what, struct err *e)
{
    void **list = NULL;
    size_t count = 0, cap = 0;
    int rc;

    while ((rc = db_step(st, what, e)) > 0) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc(list, cap * sizeof(*list));
        }
        list[count++] = db_read_row(st, t);
    }
    db_close(st);
    if (rc < 0) {
        row_list_free(t, list, count);
        return -1;
    }
    *out = list;
    *n = count;
    return 0;
}

int db_read_int(struct db_stmt *st, int64_t *out, const char *what, struct err *e)
{
    int rc = db_step(st, what, e);

    if (rc > 0)
        *out = st->tx->drv->read_int64(st, 0);
    db_close(st);
    if (rc == 0)
        return err_set(e, ERR_INTERNAL, "%s: no row", what);
    return rc > 0 ? 0 : -1;
}
