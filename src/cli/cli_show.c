/*
 * cli_show.c — the output step: the server's JSON as-is (--json), or key:
 * value lines for one object, aligned tables for lists, and PEM/DER files.
 * Strings from the server are printed with control characters replaced, so a
 * crafted subject cannot drive the terminal.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"

#include "audit/checkpoint.h"

#define MAX_COLUMNS 12
#define MODE_PUBLIC 0644
#define MODE_SECRET 0600

/* Members holding PEM or base64 blobs: written to files, not shown as lines. */
static const char *const bulky_members[] = {"certificate", "chain", "csr", "crl", "pkcs12"};

static const char *const issued_summary[] = {"serial", "subject", "not_after"};

static int is_bulky(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(bulky_members); i++)
        if (strcmp(bulky_members[i], key) == 0)
            return 1;
    return 0;
}

/* The answer as a JSON object (borrowed), or NULL with e set. */
static json_t *answer_object(const struct cli_answer *ans, struct err *e)
{
    if (!json_is_object(ans->json)) {
        err_setc(e, ERR_INTERNAL, "answer", "the server's answer (HTTP %ld) is not a JSON object",
                 ans->status);
        return NULL;
    }
    return ans->json;
}

void cli_json_print(FILE *out, const json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

    if (text != NULL)
        fprintf(out, "%s\n", text);
    free(text);
}

void cli_text_sanitize(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static int is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

/* An array of scalars? (printed on one line) */
static int is_flat_array(const json_t *v)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v))
        return 0;
    json_array_foreach(v, i, item)
    {
        if (!is_scalar(item))
            return 0;
    }
    return 1;
}

static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_null(v) || v == NULL)
        return xstrdup("-");
    return json_dumps(v, JSON_ENCODE_ANY);
}

/* Printable text of a scalar or a flat array ("a, b"); the caller frees. */
static char *value_text(const json_t *v)
{
    struct buf b = {0};
    size_t i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) == 0) {
        char *s = json_is_array(v) ? xstrdup("-") : scalar_text(v);
        cli_text_sanitize(s);
        return s;
    }
    json_array_foreach(v, i, item)
    {
        char *s = value_text(item);

        if (i > 0)
            buf_append(&b, ", ", 2);
        buf_append(&b, s, strlen(s));
        free(s);
    }
    buf_append(&b, "", 1);
    return (char *)b.data;
}

/* Display width of UTF-8 text (code points). */
static size_t text_width(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void member_print(FILE *out, const char *key, const json_t *v, int width)
{
    char *text, *nested;

    if (is_scalar(v) || is_flat_array(v)) {
        text = value_text(v);
        fprintf(out, "%-*s %s\n", width, key, text);
        free(text);
        return;
    }
    fprintf(out, "%s\n", key);
    nested = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    for (char *line = strtok(nested, "\n"); line != NULL; line = strtok(NULL, "\n"))
        fprintf(out, "  %s\n", line);
    free(nested);
}

/* Key: value lines of the members of obj (only those in `only` if given), bulky ones left out. */
static void fields_print(FILE *out, const json_t *obj, const char *const *only, size_t n_only)
{
    const char *key;
    json_t *v;
    int width = 0;
    char label[80];

    for (int pass = 0; pass < 2; pass++) {
        json_object_foreach((json_t *)obj, key, v)
        {
            int wanted = only == NULL && !is_bulky(key);

            for (size_t i = 0; i < n_only; i++)
                wanted |= strcmp(only[i], key) == 0;
            if (!wanted)
                continue;
            snprintf(label, sizeof(label), "%s:", key);
            if (pass == 0 && (int)strlen(label) > width)
                width = (int)strlen(label);
            else if (pass == 1)
                member_print(out, label, v, width);
        }
    }
}

/* ---- tables ---------------------------------------------------------------------------- */

static size_t columns_split(char *spec, char **cols)
{
    size_t n = 0;

    for (char *c = strtok(spec, " "); c != NULL && n < MAX_COLUMNS; c = strtok(NULL, " "))
        cols[n++] = c;
    return n;
}

/* Cells: row 0 the headers (upper case), then one row per item; all caller-freed. */
static char **cells_make(const json_t *rows, char **cols, size_t ncol, size_t nrow)
{
    char **cells = xcalloc((nrow + 1) * ncol, sizeof(char *));

    for (size_t c = 0; c < ncol; c++) {
        cells[c] = xstrdup(cols[c]);
        for (char *p = cells[c]; *p != '\0'; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    }
    for (size_t r = 0; r < nrow; r++)
        for (size_t c = 0; c < ncol; c++)
            cells[(r + 1) * ncol + c] =
                value_text(json_object_get(json_array_get(rows, r), cols[c]));
    return cells;
}

static void table_print(FILE *out, const json_t *rows, const char *columns)
{
    char *spec = xstrdup(columns), *cols[MAX_COLUMNS], **cells;
    size_t ncol = columns_split(spec, cols), nrow = json_array_size(rows);
    size_t width[MAX_COLUMNS] = {0};

    cells = cells_make(rows, cols, ncol, nrow);
    for (size_t i = 0; i < (nrow + 1) * ncol; i++)
        if (text_width(cells[i]) > width[i % ncol])
            width[i % ncol] = text_width(cells[i]);
    for (size_t r = 0; r <= nrow; r++) {
        for (size_t c = 0; c < ncol; c++) {
            const char *s = cells[r * ncol + c];
            int pad = c + 1 < ncol ? (int)(width[c] - text_width(s) + 2) : 0;

            fprintf(out, "%s%*s", s, pad, "");
        }
        fputc('\n', out);
    }
    for (size_t i = 0; i < (nrow + 1) * ncol; i++)
        free(cells[i]);
    free(cells);
    free(spec);
}

/* ---- files ----------------------------------------------------------------------------- */

/* Writes data to path, or to the output if path is "-". */
static int output_write(struct cli_ctx *ctx, const char *path, const void *data, size_t len,
                        int mode, struct err *e)
{
    if (strcmp(path, "-") != 0)
        return file_write_atomic(path, data, len, mode, e);
    if (fwrite(data, 1, len, ctx->out) != len)
        return err_setc(e, ERR_INVALID, "output", "cannot write the output");
    return 0;
}

/* Writes the PEM text of member `key` of obj to path (as DER if der). */
static int pem_write(struct cli_ctx *ctx, const json_t *obj, const char *key, const char *path,
                     int der, struct err *e)
{
    const char *pem = json_string_value(json_object_get(obj, key));
    unsigned char *bin;
    size_t len;
    int rc;

    if (pem == NULL)
        return err_setc(e, ERR_INTERNAL, "answer", "the answer has no \"%s\"", key);
    if (!der)
        return output_write(ctx, path, pem, strlen(pem), MODE_PUBLIC, e);
    if ((bin = cli_pem_to_der(pem, &len)) == NULL)
        return err_setc(e, ERR_INTERNAL, "answer", "the answer's \"%s\" is not PEM", key);
    rc = output_write(ctx, path, bin, len, MODE_PUBLIC, e);
    free(bin);
    return rc;
}

/* ---- the commands' output -------------------------------------------------------------- */

int cli_show_object(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e)
{
    json_t *obj = answer_object(ans, e);

    (void)call;
    if (obj == NULL)
        return -1;
    if (ctx->cfg.json)
        cli_json_print(ctx->out, obj);
    else
        fields_print(ctx->out, obj, NULL, 0);
    return 0;
}

int cli_show_table(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                   struct err *e)
{
    json_t *obj = answer_object(ans, e), *rows;

    if (obj == NULL)
        return -1;
    if (ctx->cfg.json) {
        cli_json_print(ctx->out, obj);
        return 0;
    }
    rows = json_object_get(obj, call->cmd->list_key);
    if (!json_is_array(rows))
        return err_setc(e, ERR_INTERNAL, "answer", "the answer has no \"%s\" list",
                        call->cmd->list_key);
    table_print(ctx->out, rows, call->cmd->columns);
    /* A list that says how many there are in all: the count, and the next page if any. */
    if (json_is_integer(json_object_get(obj, "total"))) {
        json_t *next = json_object_get(obj, "next_offset");
        fprintf(ctx->out, "(%zu of %lld", json_array_size(rows),
                (long long)json_integer_value(json_object_get(obj, "total")));
        if (json_is_integer(next))
            fprintf(ctx->out, "; next page: --offset %lld", (long long)json_integer_value(next));
        fprintf(ctx->out, ")\n");
    }
    return 0;
}

/* report: a table of the report's columns; with --format csv the CSV as it came. */
int cli_show_report(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e)
{
    const char *format = cli_call_value(call, "format");
    json_t *obj, *cols, *c;
    struct buf spec = {0};
    size_t i;

    if (format != NULL && strcmp(format, "csv") == 0) {
        fwrite(ans->body.data, 1, ans->body.len, ctx->out);
        return 0;
    }
    if ((obj = answer_object(ans, e)) == NULL)
        return -1;
    if (ctx->cfg.json) {
        cli_json_print(ctx->out, obj);
        return 0;
    }
    cols = json_object_get(obj, "columns");
    json_array_foreach(cols, i, c)
    {
        if (i > 0)
            buf_append(&spec, " ", 1);
        buf_append(&spec, json_string_value(c), strlen(json_string_value(c)));
    }
    buf_append(&spec, "", 1);
    table_print(ctx->out, json_object_get(obj, "rows"), (const char *)spec.data);
    buf_free(&spec);
    return 0;
}

/* cert issue and renew: the PEM to -o (a summary on the output) or to the output. */
int cli_show_issued(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e)
{
    json_t *obj = answer_object(ans, e);
    const char *out = cli_call_value(call, "out"), *chain = cli_call_value(call, "chain_out");

    if (obj == NULL || (chain != NULL && pem_write(ctx, obj, "chain", chain, 0, e) != 0))
        return -1;
    if (out == NULL && !ctx->cfg.json)
        return pem_write(ctx, obj, "certificate", "-", 0, e);
    if (out != NULL && pem_write(ctx, obj, "certificate", out, 0, e) != 0)
        return -1;
    if (ctx->cfg.json)
        cli_json_print(ctx->out, obj);
    else
        fields_print(ctx->out, obj, issued_summary, ARRAY_LEN(issued_summary));
    return 0;
}

/* cert keygen: the PKCS#12 (base64 in the answer) to -o, readable by the owner only. */
int cli_show_keygen(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e)
{
    json_t *obj = answer_object(ans, e);
    const char *b64 = json_string_value(json_object_get(obj, "pkcs12"));
    unsigned char *p12;
    size_t len;
    int rc;

    if (obj == NULL)
        return -1;
    if (b64 == NULL || (p12 = base64_decode(b64, &len)) == NULL)
        return err_setc(e, ERR_INTERNAL, "answer", "the answer has no base64 \"pkcs12\"");
    rc = output_write(ctx, cli_call_value(call, "out"), p12, len, MODE_SECRET, e);
    secure_zero(p12, len);
    free(p12);
    if (rc == 0 && ctx->cfg.json)
        cli_json_print(ctx->out, obj);
    else if (rc == 0)
        fields_print(ctx->out, obj, issued_summary, ARRAY_LEN(issued_summary));
    return rc;
}

/* cert show: key: value lines; -o writes the certificate. */
int cli_show_cert(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                  struct err *e)
{
    json_t *obj = answer_object(ans, e);
    const char *out = cli_call_value(call, "out");

    if (obj == NULL || (out != NULL && pem_write(ctx, obj, "certificate", out, 0, e) != 0))
        return -1;
    return cli_show_object(ctx, call, ans, e);
}

/* ca csr: the CSR's PEM to -o or the output. */
int cli_show_csr(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                 struct err *e)
{
    json_t *obj = answer_object(ans, e);
    const char *out = cli_call_value(call, "out");

    if (obj == NULL)
        return -1;
    if (ctx->cfg.json) {
        cli_json_print(ctx->out, obj);
        return out ? pem_write(ctx, obj, "csr", out, 0, e) : 0;
    }
    return pem_write(ctx, obj, "csr", out ? out : "-", 0, e);
}

/* A whole JSON answer written to -o (a document to carry elsewhere, e.g. offline). */
int cli_show_document(struct cli_ctx *ctx, const struct cli_call *call,
                      const struct cli_answer *ans, struct err *e)
{
    json_t *obj = answer_object(ans, e);
    const char *out = cli_call_value(call, "out");
    char *text;
    int rc;

    if (obj == NULL)
        return -1;
    text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
    rc = output_write(ctx, out ? out : "-", text, strlen(text), MODE_PUBLIC, e);
    free(text);
    return rc;
}

/* crl generate and show: number and times; -o writes the CRL (PEM, or DER with --der). */
int cli_show_crl(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                 struct err *e)
{
    json_t *obj = answer_object(ans, e);
    const char *out = cli_call_value(call, "out");
    int der = cli_call_value(call, "der") != NULL;

    if (obj == NULL || (out != NULL && pem_write(ctx, obj, "crl", out, der, e) != 0))
        return -1;
    return cli_show_object(ctx, call, ans, e);
}

/* audit export: the JSON lines as they came. */
int cli_show_audit(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                   struct err *e)
{
    const char *out = cli_call_value(call, "out");

    return output_write(ctx, out ? out : "-", ans->body.data, ans->body.len, MODE_PUBLIC, e);
}

/*
 * Appends one export page (body) to all, without its audit-key line unless it
 * is the first; *events: the events in it, *last: the last one's seq.
 */
static void export_page_add(struct buf *all, const struct buf *body, int first, long long *events,
                            long long *last)
{
    const char *p = (const char *)body->data, *end = p + body->len;

    *events = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        json_t *o = json_loadb(p, nl ? (size_t)(nl - p) : n, 0, NULL);
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type != NULL && strcmp(type, "event") == 0) {
            (*events)++;
            *last = json_integer_value(json_object_get(o, "seq"));
        }
        if (first || type == NULL || strcmp(type, "audit-key") != 0)
            buf_append(all, p, n);
        json_decref(o);
        p += n;
    }
}

/*
 * audit export: the JSON lines as they came.  Without --limit the whole chain:
 * the server answers at most 10,000 events a page, so pages are asked for
 * after the last event until one comes back short.
 */
int cli_show_export(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e)
{
    const char *out = cli_call_value(call, "out"), *size = cli_call_value(call, "page_size");
    const char *after = cli_call_value(call, "after");
    long long events = 0, last = after ? atoll(after) : 0, page = size ? atoll(size) : 10000;
    char *base, *q, *path;
    struct buf all = {0};
    int rc = 0, first = 1;

    if (cli_call_value(call, "limit") != NULL)
        return cli_show_audit(ctx, call, ans, e);
    base = xstrdup(call->req.path);
    if ((q = strchr(base, '?')) != NULL)
        *q = '\0';
    if (page == 10000) { /* the first page is the answer already in hand */
        export_page_add(&all, &ans->body, 1, &events, &last);
        first = 0;
    } else {
        events = page;
    }
    while (rc == 0 && events >= page) {
        struct cli_answer next = {0};
        path = xasprintf("%s?after=%lld&limit=%lld", base, last, page);
        rc = cli_http_send(&ctx->cfg, "GET", path, NULL, &next, e);
        if (rc == 0 && (next.status < 200 || next.status >= 300))
            rc = err_set(e, ERR_INTERNAL, "audit export: the page after event %lld: HTTP %ld", last,
                         (long)next.status);
        if (rc == 0)
            export_page_add(&all, &next.body, first, &events, &last);
        first = 0;
        cli_answer_free(&next);
        free(path);
    }
    if (rc == 0)
        rc = output_write(ctx, out ? out : "-", all.data, all.len, MODE_PUBLIC, e);
    buf_free(&all);
    free(base);
    return rc;
}

/* audit verify --offline FILE: an export checked here, with no server. */
static int verify_offline(struct cli_ctx *ctx, const char *path, struct err *e)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    struct audit_file_verdict v;
    int rc;

    if (in == NULL)
        return err_setc(e, ERR_INVALID, "file", "%s: cannot open", path);
    rc = audit_file_verify(in, &v);
    if (in != stdin)
        fclose(in);
    cli_text_sanitize(v.reason);
    cli_text_sanitize(v.tenant);
    if (rc != 0)
        return err_setc(e, ERR_INVALID, "file", "%s: %s", path, v.reason);
    if (ctx->cfg.json) {
        json_t *o = json_pack("{s:b, s:s, s:I, s:I}", "ok", v.ok, "tenant", v.tenant, "count",
                              (json_int_t)v.count, "checkpoints", (json_int_t)v.checkpoints);
        if (!v.ok) {
            json_object_set_new(o, "first_bad_seq", json_integer(v.bad_seq));
            json_object_set_new(o, "reason", json_string(v.reason));
        }
        cli_json_print(ctx->out, o);
        json_decref(o);
    } else if (v.ok)
        fprintf(ctx->out,
                "audit export of %s: %lld events, intact; %lld signed checkpoints verified\n",
                v.tenant, (long long)v.count, (long long)v.checkpoints);
    else
        fprintf(ctx->out, "audit export of %s: BROKEN at event %lld: %s\n", v.tenant,
                (long long)v.bad_seq, v.reason);
    return v.ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* audit verify: exit code 1 when the chain is broken. */
int cli_show_verify(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e)
{
    json_t *obj, *ok;
    const char *reason, *offline = cli_call_value(call, "offline");
    const char *chain = strcmp(call->cmd->group, "system") == 0 ? "_system" : ctx->cfg.tenant;
    char *text;

    if (offline != NULL)
        return verify_offline(ctx, offline, e);
    if ((obj = answer_object(ans, e)) == NULL)
        return -1;
    if (!json_is_boolean(ok = json_object_get(obj, "ok")))
        return err_setc(e, ERR_INTERNAL, "answer", "the answer has no \"ok\"");
    if (ctx->cfg.json)
        cli_json_print(ctx->out, obj);
    else if (json_is_true(ok))
        fprintf(ctx->out, "audit chain of %s: %lld events, intact%s\n", chain,
                (long long)json_integer_value(json_object_get(obj, "count")),
                json_integer_value(json_object_get(obj, "checkpoints")) > 0
                    ? "; signed checkpoints verified"
                    : "");
    else {
        reason = json_string_value(json_object_get(obj, "reason"));
        text = xstrdup(reason ? reason : "no reason given");
        cli_text_sanitize(text);
        fprintf(ctx->out, "audit chain of %s: BROKEN at event %lld: %s\n", chain,
                (long long)json_integer_value(json_object_get(obj, "first_bad_seq")), text);
        free(text);
    }
    return json_is_true(ok) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* token delete: 204, no body. */
int cli_show_deleted(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                     struct err *e)
{
    const char *what = NULL;

    (void)ans;
    (void)e;
    /* What was deleted: the last argument that went into the path (the workflow, the key). */
    for (size_t i = 0; call->cmd->args[i].name != NULL; i++)
        if (call->cmd->args[i].dest == TO_PATH && call->count[i] > 0)
            what = call->values[i][call->count[i] - 1];
    if (!ctx->cfg.json)
        fprintf(ctx->out, "deleted %s %s\n", call->cmd->group, what ? what : "");
    return 0;
}
