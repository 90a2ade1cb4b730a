/*
 * cli_run.c — running a built command: the request (two for a merged PUT),
 * the server's error as one line on stderr, then the command's output (or,
 * for an operation held back for approval, the pending request: cli_wait.c).
 */
#include <string.h>

#include "cli/cli_internal.h"

/* The members PUT /entities/{id} takes ("same fields as POST"). */
static const char *const entity_members[] = {
    "name", "kind", "email", "manufacturer", "model", "serial_number", "metadata",
};

/*
 * With --json, an error is a JSON object on stderr, as the API's: {"error", "detail"[,
 * "status"]} (stdout keeps only results, e.g. the pending request a wait gave up on).
 */
static void json_error_print(struct cli_ctx *ctx, const char *code, const char *detail, long status)
{
    json_t *o = json_pack("{s:s, s:s}", "error", code, "detail", detail ? detail : code);
    char *text;

    if (status > 0)
        json_object_set_new(o, "status", json_integer(status));
    text = json_dumps(o, JSON_COMPACT);
    fprintf(ctx->err, "%s\n", text ? text : "{\"error\":\"internal\"}");
    free(text);
    json_decref(o);
}

int cli_report(struct cli_ctx *ctx, const struct err *e)
{
    if (ctx->cfg.json)
        json_error_print(ctx, e->code[0] ? e->code : err_kind_word(e->kind), e->msg, 0);
    else
        fprintf(ctx->err, "vouch: %s\n", e->msg);
    return e->kind == ERR_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

const char *cli_error_text(const json_t *body, long status, char *buf, size_t len)
{
    const char *code = json_string_value(json_object_get(body, "error"));
    const char *detail = json_string_value(json_object_get(body, "detail"));

    if (code != NULL)
        snprintf(buf, len, "%s (%s, HTTP %ld)", detail ? detail : code, code, status);
    else
        snprintf(buf, len, "the server answered HTTP %ld without an error object", status);
    return buf;
}

/* "vouch: <detail> (<error>, HTTP <status>)" from an error answer (with --json: as JSON). */
static void server_error_print(struct cli_ctx *ctx, const struct cli_answer *ans)
{
    const char *code = json_string_value(json_object_get(ans->json, "error"));
    char text[2048];

    if (ctx->cfg.json)
        json_error_print(ctx, code ? code : "http",
                         json_string_value(json_object_get(ans->json, "detail")), ans->status);
    else
        fprintf(ctx->err, "vouch: %s\n",
                cli_error_text(ans->json, ans->status, text, sizeof(text)));
}

/* The body of the PUT: the current object's members, then the given ones over them. */
static json_t *merge_body(json_t *current, json_t *given)
{
    json_t *body = json_object(), *meta;

    for (size_t i = 0; i < ARRAY_LEN(entity_members); i++) {
        json_t *v = json_object_get(current, entity_members[i]);

        if (v != NULL && !json_is_null(v))
            json_object_set(body, entity_members[i], v);
    }
    meta = json_object_get(given, "metadata");
    if (json_is_object(meta) && json_is_object(json_object_get(body, "metadata"))) {
        meta = json_deep_copy(json_object_get(body, "metadata"));
        json_object_update(meta, json_object_get(given, "metadata"));
    } else
        meta = NULL;
    json_object_update(body, given);
    if (meta != NULL)
        json_object_set_new(body, "metadata", meta);
    return body;
}

/* GET the current object, then PUT it back with the changes. */
static int send_merged(struct cli_ctx *ctx, const struct cli_request *req, struct cli_answer *ans,
                       struct err *e)
{
    struct cli_answer cur = {0};
    json_t *body;
    int rc;

    if (cli_http_send(&ctx->cfg, "GET", req->path, NULL, &cur, e) != 0)
        return -1;
    if (cur.status >= 400 || !json_is_object(cur.json)) {
        *ans = cur; /* reported as the answer */
        return 0;
    }
    body = merge_body(cur.json, req->body);
    rc = cli_http_send(&ctx->cfg, req->method, req->path, body, ans, e);
    json_decref(body);
    cli_answer_free(&cur);
    return rc;
}

static int call_send(struct cli_ctx *ctx, const struct cli_call *call, struct cli_answer *ans,
                     struct err *e)
{
    const struct cli_request *req = &call->req;

    if (cli_config_check(&ctx->cfg, call->cmd->scope, e) != 0)
        return -1;
    if (req->merge_current)
        return send_merged(ctx, req, ans, e);
    return cli_http_send(&ctx->cfg, req->method, req->path, req->body, ans, e);
}

int cli_call_run(struct cli_ctx *ctx, struct cli_call *call)
{
    struct cli_answer ans = {0};
    struct err e;
    int rc;

    err_clear(&e);
    /* No request: a local command, or a remote one asked to work on a file (--offline). */
    if (call->req.method == NULL || cli_call_value(call, "offline") != NULL)
        rc = call->cmd->show(ctx, call, NULL, &e);
    else if (call_send(ctx, call, &ans, &e) != 0)
        rc = -1;
    else if (ans.status >= 400 || ans.status < 200) {
        server_error_print(ctx, &ans);
        rc = CLI_EXIT_FAIL;
    } else if (cli_answer_is_request(&ans))
        rc = cli_request_answer(ctx, call, &ans, &e);
    else
        rc = call->cmd->show(ctx, call, &ans, &e);
    if (rc < 0)
        rc = cli_report(ctx, &e);
    cli_answer_free(&ans);
    return rc;
}
