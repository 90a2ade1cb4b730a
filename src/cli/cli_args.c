/*
 * cli_args.c — from a command line to the request it sends: argument
 * parsing against the command table, then the path, query and JSON body.
 * No network here; the tests drive cli_request_build() directly.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli_internal.h"

#define USAGE_WIDTH  100
#define USAGE_INDENT 8

static int arg_is_option(const struct cli_arg *a)
{
    return a->name[0] == '-';
}

static int arg_repeats(const struct cli_arg *a)
{
    return a->type == ARG_LIST || a->type == ARG_INT_LIST || a->type == ARG_META;
}

char *cli_escape(const char *s)
{
    char *esc = curl_easy_escape(NULL, s, 0);
    char *copy;

    if (esc == NULL)
        abort(); /* only out of memory */
    copy = xstrdup(esc);
    curl_free(esc);
    return copy;
}

/* ---- parsing --------------------------------------------------------------------------- */

static void value_add(struct cli_call *call, size_t i, const char *v)
{
    call->values[i] = xrealloc(call->values[i], (call->count[i] + 1) * sizeof(char *));
    call->values[i][call->count[i]++] = v;
}

/* The index of option `name` (without "=value") in the command, or -1. */
static int option_find(const struct cli_command *cmd, const char *name, size_t len)
{
    for (size_t i = 0; cmd->args[i].name != NULL; i++) {
        const struct cli_arg *a = &cmd->args[i];

        if (arg_is_option(a) && strlen(a->name) == len && strncmp(a->name, name, len) == 0)
            return (int)i;
    }
    return -1;
}

/* Options every command takes: --json and --help.  1 if `a` was one of them. */
static int option_universal(struct cli_call *call, const char *a)
{
    if (strcmp(a, "--json") == 0)
        call->json = 1;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
        call->help = 1;
    else
        return 0;
    return 1;
}

/* Takes the option at argv[*i] (and its value, advancing *i). */
static int option_take(struct cli_call *call, int argc, char **argv, int *i, struct err *e)
{
    const char *a = argv[*i], *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    int k = option_find(call->cmd, a, len);
    const struct cli_arg *spec;

    if (k < 0 && eq == NULL && option_universal(call, a))
        return 0;
    if (k < 0)
        return err_set(e, ERR_USAGE, "unknown option %.*s", (int)len, a);
    spec = &call->cmd->args[k];
    if (spec->type == ARG_FLAG && eq != NULL)
        return err_set(e, ERR_USAGE, "%s takes no value", spec->name);
    if (call->count[k] > 0 && !arg_repeats(spec))
        return err_set(e, ERR_USAGE, "%s given twice", spec->name);
    if (spec->type == ARG_FLAG)
        value_add(call, (size_t)k, spec->name);
    else if (eq != NULL)
        value_add(call, (size_t)k, eq + 1);
    else if (*i + 1 < argc)
        value_add(call, (size_t)k, argv[++*i]);
    else
        return err_set(e, ERR_USAGE, "%s needs a value", spec->name);
    return 0;
}

/* Takes the nth positional argument. */
static int positional_take(struct cli_call *call, const char *v, int nth, struct err *e)
{
    int seen = 0;

    for (size_t i = 0; call->cmd->args[i].name != NULL; i++) {
        if (arg_is_option(&call->cmd->args[i]))
            continue;
        if (seen++ == nth) {
            value_add(call, i, v);
            return 0;
        }
    }
    return err_set(e, ERR_USAGE, "unexpected argument \"%s\"", v);
}

static int args_parse(struct cli_call *call, int argc, char **argv, struct err *e)
{
    int nth = 0, options_done = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (!options_done && strcmp(a, "--") == 0)
            options_done = 1;
        else if (!options_done && a[0] == '-' && a[1] != '\0') {
            if (option_take(call, argc, argv, &i, e) != 0)
                return -1;
        } else if (positional_take(call, a, nth++, e) != 0)
            return -1;
    }
    return 0;
}

static int args_check(const struct cli_call *call, struct err *e)
{
    for (size_t i = 0; call->cmd->args[i].name != NULL; i++) {
        const struct cli_arg *a = &call->cmd->args[i];

        if (call->count[i] > 0 || a->fallback != NULL)
            continue;
        if (!arg_is_option(a))
            return err_set(e, ERR_USAGE, "missing %s", a->name);
        if (a->required)
            return err_set(e, ERR_USAGE, "%s is required", a->name);
    }
    return 0;
}

/* ---- values ---------------------------------------------------------------------------- */

static json_t *int_value(const struct cli_arg *a, const char *v, struct err *e)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || isspace((unsigned char)v[0])) {
        err_set(e, ERR_USAGE, "%s: not an integer: \"%s\"", a->name, v);
        return NULL;
    }
    return json_integer(n);
}

static json_t *time_value(const struct cli_arg *a, const char *v, struct err *e)
{
    int64_t t;

    if (time_parse(v, &t) != 0) {
        err_set(e, ERR_USAGE, "%s: not an RFC 3339 UTC time: \"%s\"", a->name, v);
        return NULL;
    }
    return json_string(v);
}

/* A file's text as a JSON string (base64 of its bytes if b64). */
static json_t *file_value(const char *path, int b64, struct err *e)
{
    size_t len;
    unsigned char *data = file_read(path, CLI_FILE_MAX, &len, e);
    json_t *v = NULL;
    char *text;

    if (data == NULL)
        return NULL;
    if (b64) {
        text = base64_encode(data, len);
        v = json_string(text);
        free(text);
    } else if ((v = json_stringn((const char *)data, len)) == NULL)
        err_setc(e, ERR_INVALID, "file", "%s: not a text (PEM) file", path);
    secure_zero(data, len); /* may be a private key */
    free(data);
    return v;
}

/* The first line of a file (without its line end), as a JSON string; wiped from memory. */
static json_t *secret_file_value(const char *path, struct err *e)
{
    size_t len;
    unsigned char *data = file_read(path, 4096, &len, e);
    json_t *v;
    size_t n = 0;

    if (data == NULL)
        return NULL;
    while (n < len && data[n] != '\n' && data[n] != '\r')
        n++;
    if (n == 0 || (v = json_stringn((const char *)data, n)) == NULL)
        err_setc(e, ERR_INVALID, "file", "%s: the first line must hold the password", path);
    else
        n = 0;
    secure_zero(data, len);
    free(data);
    return n == 0 ? v : NULL;
}

static json_t *json_file_value(const char *path, struct err *e)
{
    json_error_t jerr;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

    if (v == NULL && jerr.line < 1)
        err_setc(e, ERR_INVALID, "file", "%s: %s", path, jerr.text);
    else if (v == NULL)
        err_setc(e, ERR_INVALID, "file", "%s:%d: %s", path, jerr.line, jerr.text);
    if (v == NULL)
        return NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        err_setc(e, ERR_INVALID, "file", "%s: not a JSON object", path);
        return NULL;
    }
    return v;
}

static json_t *bool_value(const struct cli_arg *a, const char *v, struct err *e)
{
    if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
        return json_true();
    if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
        return json_false();
    err_set(e, ERR_USAGE, "%s: yes or no, not \"%s\"", a->name, v);
    return NULL;
}

/* One value of a non-repeating argument as JSON; NULL with e set if invalid. */
static json_t *single_value(const struct cli_arg *a, const char *v, struct err *e)
{
    switch (a->type) {
    case ARG_BOOL:
        return bool_value(a, v, e);
    case ARG_INT:
        return int_value(a, v, e);
    case ARG_FLAG:
        return json_true();
    case ARG_TIME:
        return time_value(a, v, e);
    case ARG_TEXT_FILE:
        return file_value(v, 0, e);
    case ARG_BASE64_FILE:
        return file_value(v, 1, e);
    case ARG_JSON_FILE:
    case ARG_JSON_MERGE:
        return json_file_value(v, e);
    case ARG_SECRET_FILE:
        return secret_file_value(v, e);
    default:
        return json_string(v);
    }
}

/* KEY=VALUE occurrences as an object. */
static json_t *meta_value(const struct cli_arg *a, const char **v, size_t n, struct err *e)
{
    json_t *o = json_object();

    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(v[i], '=');
        char *key;

        if (eq == NULL || eq == v[i]) {
            json_decref(o);
            err_set(e, ERR_USAGE, "%s: expected KEY=VALUE, got \"%s\"", a->name, v[i]);
            return NULL;
        }
        key = xstrndup(v[i], (size_t)(eq - v[i]));
        json_object_set_new(o, key, json_string(eq + 1));
        free(key);
    }
    return o;
}

/* The JSON value of argument i of the call (all its occurrences). */
static json_t *arg_value(const struct cli_call *call, size_t i, struct err *e)
{
    const struct cli_arg *a = &call->cmd->args[i];
    json_t *list;

    if (call->count[i] == 0)
        return single_value(a, a->fallback, e);
    if (a->type == ARG_META)
        return meta_value(a, call->values[i], call->count[i], e);
    if (a->type != ARG_LIST && a->type != ARG_INT_LIST)
        return single_value(a, call->values[i][call->count[i] - 1], e);
    list = json_array();
    for (size_t k = 0; k < call->count[i]; k++) {
        json_t *v = a->type == ARG_LIST ? json_string(call->values[i][k])
                                        : int_value(a, call->values[i][k], e);
        if (v == NULL) {
            json_decref(list);
            return NULL;
        }
        json_array_append_new(list, v);
    }
    return list;
}

const char *cli_call_value(const struct cli_call *call, const char *key)
{
    for (size_t i = 0; call->cmd->args[i].name != NULL; i++) {
        const struct cli_arg *a = &call->cmd->args[i];

        if (strcmp(a->field ? a->field : a->name, key) != 0)
            continue;
        return call->count[i] ? call->values[i][call->count[i] - 1] : a->fallback;
    }
    return NULL;
}

/* ---- the request ----------------------------------------------------------------------- */

static void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

static void buf_put_escaped(struct buf *b, const char *s)
{
    char *esc = cli_escape(s);

    buf_puts(b, esc);
    free(esc);
}

/* The path from the template, each "{}" replaced by the next path argument. */
static void path_fill(const struct cli_call *call, const char *tenant, struct buf *b)
{
    const char *t = call->cmd->path;
    size_t next = 0;

    if (call->cmd->scope == SCOPE_TENANT) {
        buf_puts(b, "/api/v1/t/");
        buf_put_escaped(b, tenant);
    }
    for (; *t != '\0'; t++) {
        if (strncmp(t, "{}", 2) != 0) {
            buf_append(b, t, 1);
            continue;
        }
        while (call->cmd->args[next].name != NULL && call->cmd->args[next].dest != TO_PATH)
            next++;
        if (call->cmd->args[next].name == NULL)
            abort(); /* a template with more "{}" than path arguments: a table bug */
        buf_put_escaped(b, call->values[next][0]);
        next++;
        t++;
    }
}

/* Appends "&name=value" (the caller turns the first '&' into '?'). */
static void query_add(struct buf *q, const char *name, const json_t *v)
{
    char num[32];

    buf_puts(q, "&");
    buf_puts(q, name);
    buf_puts(q, "=");
    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        buf_puts(q, num);
    } else if (json_is_boolean(v)) {
        buf_puts(q, json_is_true(v) ? "true" : "false");
    } else {
        buf_put_escaped(q, json_string_value(v));
    }
}

/* Adds argument i to the body or the query. */
static int arg_place(struct cli_call *call, size_t i, struct buf *query, struct err *e)
{
    const struct cli_arg *a = &call->cmd->args[i];
    json_t *v;

    if (a->dest == TO_PATH || a->dest == TO_LOCAL || (call->count[i] == 0 && a->fallback == NULL))
        return 0;
    if ((v = arg_value(call, i, e)) == NULL)
        return -1;
    if (a->type == ARG_JSON_MERGE) {
        json_object_update_missing(call->req.body, v);
        json_decref(v);
    } else if (a->dest == TO_BODY)
        json_object_set_new(call->req.body, a->field, v);
    else {
        query_add(query, a->field, v);
        json_decref(v);
    }
    return 0;
}

static int request_fill(struct cli_call *call, const char *tenant, struct err *e)
{
    struct buf path = {0}, query = {0};
    int rc = -1;

    call->req.method = call->cmd->method;
    if (call->req.method == NULL)
        return 0;
    path_fill(call, tenant, &path);
    if (strcmp(call->req.method, "POST") == 0 || strcmp(call->req.method, "PUT") == 0)
        call->req.body = json_object();
    for (size_t i = 0; call->cmd->args[i].name != NULL; i++)
        if (arg_place(call, i, &query, e) != 0)
            goto out;
    if (query.len > 0) {
        query.data[0] = '?';
        buf_append(&path, query.data, query.len);
    }
    rc = 0;
out:
    buf_free(&query);
    buf_append(&path, "", 1);
    call->req.path = (char *)path.data;
    return rc;
}

/*
 * The command argv names: its group is argv[0], or argv[0] and argv[1] for a
 * group within a group (*words 2).  NULL with e set if there is none.
 */
static const struct cli_command *command_of(int argc, char **argv, int *words, int *uses_verb,
                                            struct err *e)
{
    char *pair = argc > 1 ? xasprintf("%s %s", argv[0], argv[1]) : NULL;
    const char *group = argv[0];
    const struct cli_command *cmd;

    *words = 1;
    if (pair != NULL && strchr(argv[0], ' ') == NULL && cli_group_exists(pair)) {
        group = pair;
        *words = 2;
    }
    cmd = cli_command_find(group, argc > *words ? argv[*words] : NULL, uses_verb);
    if (cmd == NULL && cli_group_exists(group))
        err_set(e, ERR_USAGE, "%s: %s%s", group,
                argc > *words ? "unknown subcommand " : "missing subcommand",
                argc > *words ? argv[*words] : "");
    else if (cmd == NULL)
        err_set(e, ERR_USAGE, "unknown command \"%s\"", argv[0]);
    free(pair);
    return cmd;
}

int cli_call_build(int argc, char **argv, const char *tenant, struct cli_call *call, struct err *e)
{
    int uses_verb = 0, words = 1;

    memset(call, 0, sizeof(*call));
    if (argc < 1)
        return err_set(e, ERR_USAGE, "missing command");
    if ((call->cmd = command_of(argc, argv, &words, &uses_verb, e)) == NULL)
        return -1;
    if (args_parse(call, argc - words - uses_verb, argv + words + uses_verb, e) != 0)
        return -1;
    if (call->help)
        return 0;
    if (args_check(call, e) != 0 || (call->cmd->check && call->cmd->check(call, e) != 0))
        return -1;
    return request_fill(call, tenant, e);
}

void cli_request_free(struct cli_request *req)
{
    if (req == NULL)
        return;
    free(req->path);
    if (req->body != NULL)
        json_decref(req->body); /* may hold a password: jansson frees, cannot wipe */
    memset(req, 0, sizeof(*req));
}

void cli_call_free(struct cli_call *call)
{
    if (call == NULL)
        return;
    for (size_t i = 0; i < CLI_MAX_ARGS; i++)
        free(call->values[i]);
    cli_request_free(&call->req);
    memset(call, 0, sizeof(*call));
}

int cli_request_build(int argc, char **argv, const char *tenant, struct cli_request *req,
                      struct err *e)
{
    struct cli_call call;
    int rc = cli_call_build(argc, argv, tenant, &call, e);

    if (rc == 0 && call.help)
        rc = err_set(e, ERR_USAGE, "--help asks for no request");
    if (rc == 0) {
        *req = call.req;
        memset(&call.req, 0, sizeof(call.req));
    }
    cli_call_free(&call);
    return rc;
}

/* ---- usage ----------------------------------------------------------------------------- */

/* The placeholder of an option's value in usage, into buf. */
static const char *metavar(const struct cli_arg *a, char *buf, size_t len)
{
    size_t k = 0;

    if (a->metavar != NULL)
        return a->metavar;
    if (a->type == ARG_INT || a->type == ARG_INT_LIST)
        return "N";
    if (a->type == ARG_TIME)
        return "TIME";
    if (a->type == ARG_META)
        return "KEY=VALUE";
    if (a->type == ARG_BOOL)
        return "yes|no";
    if (a->type == ARG_OUTPUT || a->type == ARG_TEXT_FILE || a->type == ARG_BASE64_FILE ||
        a->type == ARG_JSON_FILE || a->type == ARG_JSON_MERGE || a->type == ARG_SECRET_FILE)
        return "FILE";
    for (const char *p = a->name + strspn(a->name, "-"); *p != '\0' && k + 1 < len; p++)
        buf[k++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[k] = '\0';
    return buf;
}

/* Prints word, starting an indented line first if it would pass the right margin. */
static void usage_word(FILE *f, const char *word, int *col)
{
    int len = (int)strlen(word);

    if (*col + 1 + len > USAGE_WIDTH) {
        fprintf(f, "\n%*s", USAGE_INDENT, "");
        *col = USAGE_INDENT;
    } else {
        fputc(' ', f);
        (*col)++;
    }
    fputs(word, f);
    *col += len;
}

/* One argument as usage shows it ("[--ca NAME]", "SERIAL", "[--san TYPE:VALUE ...]"), into word. */
static const char *usage_arg(const struct cli_arg *a, char *word, size_t len)
{
    char mv[64];
    int optional = arg_is_option(a) && !a->required;
    int valued = arg_is_option(a) && a->type != ARG_FLAG;

    snprintf(word, len, "%s%s%s%s%s%s", optional ? "[" : "", a->name, valued ? " " : "",
             valued ? metavar(a, mv, sizeof(mv)) : "", arg_repeats(a) ? " ..." : "",
             optional ? "]" : "");
    return word;
}

void cli_usage_command(FILE *f, const struct cli_command *cmd)
{
    char word[160];
    int col;

    col =
        fprintf(f, "  vouch %s%s%s", cmd->group, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
    for (size_t i = 0; cmd->args[i].name != NULL; i++)
        usage_word(f, usage_arg(&cmd->args[i], word, sizeof(word)), &col);
    fputc('\n', f);
}

/* ---- the table as data (vouch --commands-json) ----------------------------------------- */

static const char *const arg_type_names[] = {
    [ARG_STRING] = "string",
    [ARG_INT] = "int",
    [ARG_FLAG] = "flag",
    [ARG_TIME] = "time",
    [ARG_OUTPUT] = "output",
    [ARG_TEXT_FILE] = "text-file",
    [ARG_BASE64_FILE] = "base64-file",
    [ARG_JSON_FILE] = "json-file",
    [ARG_SECRET_FILE] = "secret-file",
    [ARG_LIST] = "list",
    [ARG_META] = "meta",
    [ARG_INT_LIST] = "int-list",
    [ARG_BOOL] = "bool",
    [ARG_JSON_MERGE] = "json-merge",
};

static const char *const dest_names[] = {
    [TO_PATH] = "path", [TO_BODY] = "body", [TO_QUERY] = "query", [TO_LOCAL] = "local"};

static const char *const scope_names[] = {
    [SCOPE_TENANT] = "tenant", [SCOPE_SYSTEM] = "system", [SCOPE_LOCAL] = "local"};

static json_t *arg_json(const struct cli_arg *a)
{
    char mv[64], word[160];

    return json_pack("{s:s, s:s?, s:s, s:s, s:b, s:b, s:b, s:s}", "name", a->name, "metavar",
                     arg_is_option(a) && a->type == ARG_FLAG ? NULL : metavar(a, mv, sizeof(mv)),
                     "type", arg_type_names[a->type], "dest", dest_names[a->dest], "option",
                     arg_is_option(a), "required", !arg_is_option(a) || a->required, "repeats",
                     arg_repeats(a), "usage", usage_arg(a, word, sizeof(word)));
}

json_t *cli_command_json(const struct cli_command *cmd)
{
    json_t *args = json_array();

    for (size_t i = 0; cmd->args[i].name != NULL; i++) {
        json_t *a = arg_json(&cmd->args[i]);
        const char *help = cli_option_help(cmd, cmd->args[i].name);
        if (help != NULL)
            json_object_set_new(a, "help", json_string(help));
        json_array_append_new(args, a);
    }
    return json_pack("{s:s, s:s?, s:s?, s:s?, s:s, s:o, s:s?}", "group", cmd->group, "verb",
                     cmd->verb, "method", cmd->method, "path", cmd->path, "scope",
                     scope_names[cmd->scope], "args", args, "summary", cli_command_summary(cmd));
}
