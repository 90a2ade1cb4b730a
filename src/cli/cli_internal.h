/*
 * cli_internal.h — shared by the files of src/cli only.
 *
 * A command is a row of the command table (cli_commands.c): its route, its
 * arguments and where each goes (path segment, JSON body member, query
 * parameter, or kept locally for the output step), a check for rules a row
 * cannot say, and the function that shows the server's answer.
 */
#ifndef VOUCH_CLI_INTERNAL_H
#define VOUCH_CLI_INTERNAL_H

#include <stddef.h>

#include "cli/cli.h"

#define CLI_MAX_ARGS     24                 /* per command, with the terminating row */
#define CLI_FILE_MAX     (64 * 1024 * 1024) /* files sent: CSRs, PEMs, PKCS#12, profiles, bundles */
#define CLI_RESPONSE_MAX (64 * 1024 * 1024) /* largest server answer read */
#define CLI_INSPECT_MAX  (64 * 1024 * 1024) /* largest file inspected */

enum arg_type {
    ARG_STRING,
    ARG_INT,         /* a decimal integer, sent as a JSON number */
    ARG_FLAG,        /* takes no value; sent as true */
    ARG_TIME,        /* RFC 3339 UTC, checked before sending */
    ARG_OUTPUT,      /* a file to write ("-" = standard output) */
    ARG_TEXT_FILE,   /* a file whose text is sent (PEM) */
    ARG_BASE64_FILE, /* a file sent as base64 (PKCS#12) */
    ARG_JSON_FILE,   /* a file holding a JSON object, sent as that object */
    ARG_SECRET_FILE, /* a file whose first line is sent (a password kept off the command line) */
    ARG_LIST,        /* repeatable; sent as an array of strings */
    ARG_META,        /* repeatable KEY=VALUE; sent as an object */
    ARG_BOOL,        /* yes|no (true|false, on|off); sent as a JSON boolean */
    ARG_INT_LIST,    /* repeatable decimal integers; sent as an array of numbers */
    ARG_JSON_MERGE,  /* a file holding a JSON object whose members are sent as body members
                        (list it last: members the command line sets win) */
};

enum arg_dest {
    TO_PATH,  /* the next "{}" of the path template */
    TO_BODY,  /* a member of the JSON body */
    TO_QUERY, /* a query parameter */
    TO_LOCAL, /* used by the output step only */
};

/* One argument of a command.  A name starting with '-' is an option, else a positional. */
struct cli_arg {
    const char *name;  /* "--ca", "-o", or a positional's label ("SERIAL") */
    const char *field; /* body member, query parameter or local key; NULL: by name */
    enum arg_type type;
    enum arg_dest dest;
    int required;         /* positionals are always required */
    const char *fallback; /* value when absent, or NULL */
    const char *metavar;  /* in usage; NULL: derived from type and name */
};

enum cli_scope {
    SCOPE_TENANT, /* path under /api/v1/t/{tenant} */
    SCOPE_SYSTEM, /* path from /api/v1 as written */
    SCOPE_LOCAL,  /* no server */
};

/* Connection settings: defaults, then config files, environment, flags. Owned strings. */
struct cli_config {
    char *url;
    char *token; /* never printed */
    char *tenant;
    char *cacert;
    int json;
    int insecure_http; /* --insecure-http: a token may go over plain HTTP off loopback */
};

/* A server's answer. */
struct cli_answer {
    long status;
    char *content_type; /* NULL if none */
    struct buf body;    /* NUL-terminated beyond len */
    json_t *json;       /* the parsed body if it is JSON, else NULL */
};

struct cli_ctx {
    struct cli_config cfg;
    FILE *out;
    FILE *err;
};

struct cli_call;

/* Shows an answer (NULL for local commands); returns the exit code, or -1 with e set. */
typedef int (*cli_show_fn)(struct cli_ctx *ctx, const struct cli_call *call,
                           const struct cli_answer *ans, struct err *e);

struct cli_command {
    const char *group;  /* one word, or two ("acme endpoint": a group within a group) */
    const char *verb;   /* NULL: the group is the command ("inspect") */
    const char *method; /* NULL: no request */
    const char *path;   /* template; "{}" takes the next TO_PATH argument */
    enum cli_scope scope;
    struct cli_arg args[CLI_MAX_ARGS];                  /* ends with a row whose name is NULL */
    int (*check)(struct cli_call *call, struct err *e); /* rules across arguments, or NULL */
    cli_show_fn show;
    const char *list_key; /* cli_show_table: the member holding the rows */
    const char *columns;  /* cli_show_table: members shown, space-separated */
};

/* A parsed command line. */
struct cli_call {
    const struct cli_command *cmd;
    const char **values[CLI_MAX_ARGS]; /* occurrences per argument (pointers into argv) */
    size_t count[CLI_MAX_ARGS];
    int json; /* --json after the command */
    int help; /* --help after the command */
    struct cli_request req;
};

/* cli_commands.c */
const struct cli_command *cli_commands(size_t *n);
/* The row for group and verb, or NULL.  Sets *uses_verb if the verb was consumed. */
const struct cli_command *cli_command_find(const char *group, const char *verb, int *uses_verb);
/* Whether some command is of group, or of a group within it ("acme" for "acme endpoint"). */
int cli_group_exists(const char *group);
/* Whether a command of group cmd_group is one of group (itself, or a group within it). */
int cli_group_has(const char *group, const char *cmd_group);

/* cli_args.c */
int cli_call_build(int argc, char **argv, const char *tenant, struct cli_call *call, struct err *e);
void cli_call_free(struct cli_call *call);
/* Last value of the argument whose field (or name) is key, its fallback, or NULL. */
const char *cli_call_value(const struct cli_call *call, const char *key);
/* Prints "vouch GROUP VERB ARGS..." for one command. */
void cli_usage_command(FILE *f, const struct cli_command *cmd);
/* cli_help.c: one line on what cmd does (NULL if the table has none); an option's or
 * positional's help text, with the values it takes (NULL if none). */
const char *cli_command_summary(const struct cli_command *cmd);
const char *cli_option_help(const struct cli_command *cmd, const char *option);
/* `vouch` alone; `vouch GROUP --help`; `vouch GROUP VERB --help`. */
void cli_help_short(FILE *f);
void cli_help_group(FILE *f, const char *group);
void cli_help_command(FILE *f, const struct cli_command *cmd);
/*
 * One command as a JSON object (group, verb, method, path, scope, and its
 * arguments with name, metavar, type and usage): what the man page and the
 * shell completion are generated from.  The caller owns the reference.
 */
json_t *cli_command_json(const struct cli_command *cmd);
/* Percent-encodes s for a path segment or query value; the caller frees. */
char *cli_escape(const char *s);

/* cli_config.c */
/* Sets defaults, then reads the config files and the environment. */
int cli_config_load(struct cli_config *cfg, struct err *e);
/* Whether an http(s):// URL names this machine's loopback (localhost, 127/8, ::1). */
int cli_url_is_loopback(const char *url);
/* Reads one config file of `key=value` lines; a missing file is not an error. */
int cli_config_file(struct cli_config *cfg, const char *path, struct err *e);
/* Applies the global options of argv; *first = index of the command; *help if --help. */
int cli_config_args(struct cli_config *cfg, int argc, char **argv, int *first, int *help,
                    struct err *e);
/* Checks the settings a request needs (URL scheme, token); strips a trailing '/'. */
int cli_config_check(struct cli_config *cfg, enum cli_scope scope, struct err *e);
void cli_config_free(struct cli_config *cfg);
void cli_usage_globals(FILE *f);
/* The global options as a JSON array (flag, metavar, env, default, key); caller owns it. */
json_t *cli_config_json(void);

/* cli_http.c */
/* Sends one request; fills ans (free with cli_answer_free) on any HTTP answer. */
int cli_http_send(const struct cli_config *cfg, const char *method, const char *path,
                  const json_t *body, struct cli_answer *ans, struct err *e);
void cli_answer_free(struct cli_answer *ans);

/* cli_run.c */
/* Runs a built call: request, error report, output.  Returns the exit code. */
int cli_call_run(struct cli_ctx *ctx, struct cli_call *call);
/* Prints "vouch: msg" and returns the exit code e calls for. */
int cli_report(struct cli_ctx *ctx, const struct err *e);
/* "<detail> (<error>, HTTP <status>)" of an error answer's body, into buf; returns buf. */
const char *cli_error_text(const json_t *body, long status, char *buf, size_t len);

/*
 * cli_wait.c: the answer of an operation an approval workflow holds back
 * (docs/api.md "Approvals"): 202 with a request instead of the result.
 */
#define CLI_WAIT_TIMEOUT_DEFAULT 3600L    /* seconds --wait waits without --wait-timeout */
#define CLI_WAIT_TIMEOUT_MAX     2592000L /* 30 days: longer than any request stays pending */
#define CLI_WAIT_FIRST_MS        1000L    /* the first look at the request, after the 202 */
#define CLI_WAIT_LONGEST_MS      10000L   /* the interval doubles up to this */
/*
 * The seconds --wait waits (0 without --wait) into *seconds; -1 with e set
 * (a usage error) for --wait-timeout without --wait or out of range.
 */
int cli_wait_timeout(const struct cli_call *call, long *seconds, struct err *e);
/* 1 if ans is a 202 whose body is an approval request ({"id","kind","status",...}). */
int cli_answer_is_request(const struct cli_answer *ans);
/*
 * Shows a request answer: pending, its id and approvals (the request JSON with
 * --json) and no output file; with --wait, polls GET /requests/{id} until it
 * is decided, then cli_request_outcome.  Returns the exit code, or -1 with e.
 */
int cli_request_answer(struct cli_ctx *ctx, const struct cli_call *call,
                       const struct cli_answer *ans, struct err *e);
/*
 * A decided request: `done` is shown by the command's own output step on
 * result.body (as if the operation had answered at once); `failed`,
 * `rejected` and `expired` are -1 with e set to what happened (exit 1).
 */
int cli_request_outcome(struct cli_ctx *ctx, const struct cli_call *call, const json_t *request,
                        struct err *e);

/* cli_show.c: the output step of the commands */
/* Prints j pretty-printed, members in order, and a newline. */
void cli_json_print(FILE *out, const json_t *j);
/* Replaces control characters of s (text from the server) by '?', in place. */
void cli_text_sanitize(char *s);
int cli_show_object(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e);
int cli_show_report(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e);
int cli_show_table(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                   struct err *e);
int cli_show_issued(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e);
int cli_show_keygen(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e);
int cli_show_cert(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                  struct err *e);
int cli_show_csr(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                 struct err *e);
int cli_show_document(struct cli_ctx *ctx, const struct cli_call *call,
                      const struct cli_answer *ans, struct err *e);
int cli_show_crl(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                 struct err *e);
int cli_show_export(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e);
int cli_show_audit(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                   struct err *e);
int cli_show_verify(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                    struct err *e);
int cli_show_deleted(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                     struct err *e);

/* cli_inspect.c */
int cli_show_inspect(struct cli_ctx *ctx, const struct cli_call *call, const struct cli_answer *ans,
                     struct err *e);
/* The DER of the first PEM block of text; the caller frees.  NULL if none. */
unsigned char *cli_pem_to_der(const char *text, size_t *out_len);

#endif
