/*
 * cli_main.c — the entry point: settings, global options, the command, the
 * exit code (0 ok, 1 refused or failed, 2 usage).
 */
#include <string.h>

#include <curl/curl.h>

#include "cli/cli_offline.h"

/* Usage lines of every command (of one group if group is not NULL). */
static void usage_commands(FILE *f, const char *group)
{
    size_t n;
    const struct cli_command *cmds = cli_commands(&n);

    for (size_t i = 0; i < n; i++)
        if (group == NULL || cli_group_has(group, cmds[i].group))
            cli_usage_command(f, &cmds[i]);
}

static void usage_all(FILE *f)
{
    fprintf(f, "usage: vouch [global options] COMMAND [arguments]\n\nglobal options:\n");
    cli_usage_globals(f);
    fprintf(f, "\ncommands (each also takes --json and --help):\n");
    usage_commands(f, NULL);
    cli_offline_usage(f);
    fprintf(f,
            "\nAn operation an approval workflow holds back (the commands with --wait) prints\n"
            "its pending request and exits 0; --wait waits for the decision (up to\n"
            "--wait-timeout, default %ld s) and then shows the result as if it had come at once.\n",
            CLI_WAIT_TIMEOUT_DEFAULT);
}

/* A usage error: the message, then the usage of what the user was typing. */
static int usage_error(struct cli_ctx *ctx, const struct err *e, const struct cli_call *call,
                       const char *group)
{
    int rc = cli_report(ctx, e);

    if (rc != CLI_EXIT_USAGE)
        return rc;
    fprintf(ctx->err, "usage:\n");
    if (call != NULL && call->cmd != NULL)
        cli_usage_command(ctx->err, call->cmd);
    else if (group != NULL && cli_group_exists(group))
        usage_commands(ctx->err, group);
    else
        fprintf(ctx->err, "  vouch --help\n");
    return rc;
}

/* After the global options: the command.  Returns the exit code. */
static int command_run(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_call call;
    struct err e;
    int rc;

    err_clear(&e);
    if (strcmp(argv[0], "offline") == 0) /* the offline CA: no server (cli_offline.c) */
        return cli_offline_main(ctx, argc, argv);
    /* `vouch cert --help`, `vouch acme endpoint --help`: the group's commands. */
    if (argc >= 2 && strcmp(argv[1], "--help") == 0 && cli_group_exists(argv[0])) {
        cli_help_group(ctx->out, argv[0]);
        return CLI_EXIT_OK;
    }
    if (argc >= 3 && strcmp(argv[2], "--help") == 0) {
        char sub[64];
        snprintf(sub, sizeof(sub), "%s %s", argv[0], argv[1]);
        if (cli_group_exists(sub)) {
            cli_help_group(ctx->out, sub);
            return CLI_EXIT_OK;
        }
    }
    if (cli_call_build(argc, argv, ctx->cfg.tenant, &call, &e) != 0)
        rc = usage_error(ctx, &e, &call, argv[0]);
    else if (call.help) {
        cli_help_command(ctx->out, call.cmd);
        rc = CLI_EXIT_OK;
    } else {
        ctx->cfg.json |= call.json;
        rc = cli_call_run(ctx, &call);
    }
    cli_call_free(&call);
    return rc;
}

/*
 * `vouch --commands-json` (hidden): the command table, the global options and
 * the offline commands as one JSON document, from which the man page and the
 * shell completion are generated (scripts/dev/gen-man.py).
 */
static int commands_json(FILE *out)
{
    size_t n;
    const struct cli_command *cmds = cli_commands(&n);
    json_t *list = json_array(), *doc;

    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, cli_command_json(&cmds[i]));
    doc = json_pack("{s:s, s:o, s:[sss], s:o, s:[ss], s:o}", "program", "vouch", "globals",
                    cli_config_json(), "global_flags", "--json", "--help", "--version", "commands",
                    list, "command_flags", "--json", "--help", "offline", cli_offline_json());
    json_dumpf(doc, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(doc);
    return CLI_EXIT_OK;
}

int cli_main(int argc, char **argv, FILE *out, FILE *errout)
{
    struct cli_ctx ctx = {.out = out, .err = errout};
    struct err e;
    int first = argc, help = 0, rc;

    err_clear(&e);
    if (argc == 2 && strcmp(argv[1], "--commands-json") == 0)
        return commands_json(out);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(errout, "vouch: libcurl failed to initialise\n");
        return CLI_EXIT_FAIL;
    }
    if (cli_config_load(&ctx.cfg, &e) != 0 ||
        cli_config_args(&ctx.cfg, argc, argv, &first, &help, &e) != 0)
        rc = usage_error(&ctx, &e, NULL, NULL);
    else if (help) {
        usage_all(out);
        rc = CLI_EXIT_OK;
    } else if (first >= argc) {
        cli_help_short(errout);
        rc = CLI_EXIT_USAGE;
    } else
        rc = command_run(&ctx, argc - first, argv + first);
    fflush(out);
    cli_config_free(&ctx.cfg);
    curl_global_cleanup();
    return rc;
}
