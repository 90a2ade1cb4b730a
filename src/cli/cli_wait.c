/*
 * cli_wait.c — the answer of an operation an approval workflow holds back
 * (docs/api.md "Approvals"): 202 with a pending request instead of the
 * result.  Without --wait the request is what the command printed (exit 0,
 * no output file written).  With --wait, GET /requests/{id} is read 1 s, then
 * 2, 4, 8 and 10 s apart until the request is decided or --wait-timeout
 * passes: `done` hands result.body to the command's own output step, as if
 * the operation had answered at once; `rejected`, `expired` and `failed` exit
 * 1.  Ctrl-C while waiting stops the waiting only; the request stays pending.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_internal.h"

static volatile sig_atomic_t interrupted;

/* What the messages say of a request, copied and cleaned of control characters. */
struct request_view {
    char id[80];
    char kind[48];
    char status[24];
    char reason[400];
    size_t approvals;
    long long required;
    long long expires;
};

/* The state of one --wait. */
struct waiting {
    char *path;          /* GET this: /api/v1/t/{tenant}/requests/{id} */
    json_t *latest;      /* the request as last read (owned) */
    long timeout_s;      /* --wait-timeout */
    int64_t deadline_ms; /* on the monotonic clock */
    long delay_ms;       /* until the next look */
    int failing;         /* the last look failed (said once per run of failures) */
};

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void text_copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "-");
    cli_text_sanitize(dst);
}

static void request_view(const json_t *r, struct request_view *v)
{
    text_copy(v->id, sizeof(v->id), json_string_value(json_object_get(r, "id")));
    text_copy(v->kind, sizeof(v->kind), json_string_value(json_object_get(r, "kind")));
    text_copy(v->status, sizeof(v->status), json_string_value(json_object_get(r, "status")));
    text_copy(v->reason, sizeof(v->reason), json_string_value(json_object_get(r, "reason")));
    v->approvals = json_array_size(json_object_get(r, "approvals"));
    v->required = json_integer_value(json_object_get(r, "required"));
    v->expires = 0;
    {
        int64_t t;
        const char *text = json_string_value(json_object_get(r, "expires"));
        if (text != NULL && time_parse(text, &t) == 0)
            v->expires = t;
    }
}

int cli_wait_timeout(const struct cli_call *call, long *seconds, struct err *e)
{
    const char *wait = cli_call_value(call, "wait"), *v = cli_call_value(call, "wait_timeout");
    char *end;
    long n;

    if (v == NULL) {
        *seconds = wait != NULL ? CLI_WAIT_TIMEOUT_DEFAULT : 0;
        return 0;
    }
    if (wait == NULL)
        return err_set(e, ERR_USAGE, "--wait-timeout needs --wait");
    errno = 0;
    n = strtol(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || errno != 0 || *end != '\0' || n < 1 || n > CLI_WAIT_TIMEOUT_MAX)
        return err_set(e, ERR_USAGE, "--wait-timeout: 1 to %ld seconds, not \"%s\"",
                       CLI_WAIT_TIMEOUT_MAX, v);
    *seconds = n;
    return 0;
}

int cli_answer_is_request(const struct cli_answer *ans)
{
    const json_t *r = ans->json;

    return ans->status == 202 && json_is_object(r) && json_is_string(json_object_get(r, "id")) &&
           json_is_string(json_object_get(r, "kind")) &&
           json_is_string(json_object_get(r, "status"));
}

/* 1 if the command takes --wait. */
static int command_waits(const struct cli_command *cmd)
{
    for (size_t i = 0; cmd->args[i].name != NULL; i++)
        if (strcmp(cmd->args[i].name, "--wait") == 0)
            return 1;
    return 0;
}

/* Without --wait: the pending request is the outcome. */
static int pending_show(struct cli_ctx *ctx, const struct cli_call *call, const json_t *r)
{
    struct request_view v;
    char when[32];

    if (ctx->cfg.json) {
        cli_json_print(ctx->out, r);
        return CLI_EXIT_OK;
    }
    request_view(r, &v);
    fprintf(ctx->out, "request %s is pending: %zu of %lld approvals (kind %s)\n", v.id, v.approvals,
            v.required, v.kind);
    if (v.expires > 0)
        fprintf(ctx->out, "expires %s unless decided\n",
                time_format(v.expires, when, sizeof(when)));
    fprintf(ctx->out, "follow it with: vouch request show %s\n", v.id);
    if (command_waits(call->cmd))
        fprintf(ctx->out, "(with --wait, vouch waits for the decision and shows the result)\n");
    return CLI_EXIT_OK;
}

/* `done`: result.body through the command's output step, as the direct answer would go. */
static int result_show(struct cli_ctx *ctx, const struct cli_call *call, const json_t *r,
                       const struct request_view *v, struct err *e)
{
    json_t *result = json_object_get(r, "result"), *body = json_object_get(result, "body");
    struct cli_answer ans = {0};
    char *text;
    int rc;

    if (!json_is_object(body))
        return err_setc(e, ERR_INTERNAL, "answer", "request %s is done but holds no result", v->id);
    ans.status = (long)json_integer_value(json_object_get(result, "status"));
    ans.json = body; /* borrowed: ans is not freed */
    text = json_dumps(body, JSON_COMPACT);
    ans.body.data = (unsigned char *)text;
    ans.body.len = strlen(text);
    fprintf(ctx->err, "vouch: request %s was approved and carried out\n", v->id);
    rc = call->cmd->show(ctx, call, &ans, e);
    free(text);
    return rc;
}

/* `failed`: the error the operation answered when it was carried out. */
static int failure_report(const json_t *r, const struct request_view *v, struct err *e)
{
    json_t *result = json_object_get(r, "result"), *status = json_object_get(result, "status");
    const char *bare = json_string_value(json_object_get(result, "error"));
    char text[sizeof(e->msg)];

    if (json_is_integer(status))
        cli_error_text(json_object_get(result, "body"), (long)json_integer_value(status), text,
                       sizeof(text));
    else
        snprintf(text, sizeof(text), "%s", bare ? bare : "no error recorded");
    cli_text_sanitize(text);
    return err_setc(e, ERR_CONFLICT, "failed", "request %s (kind %s) was approved but failed: %s",
                    v->id, v->kind, text);
}

int cli_request_outcome(struct cli_ctx *ctx, const struct cli_call *call, const json_t *request,
                        struct err *e)
{
    struct request_view v;

    request_view(request, &v);
    if (strcmp(v.status, "done") == 0)
        return result_show(ctx, call, request, &v, e);
    if (ctx->cfg.json)
        cli_json_print(ctx->out, request);
    if (strcmp(v.status, "rejected") == 0)
        return err_setc(e, ERR_FORBIDDEN, "rejected", "request %s (kind %s) was rejected: %s", v.id,
                        v.kind, v.reason);
    if (strcmp(v.status, "expired") == 0)
        return err_setc(e, ERR_CONFLICT, "expired",
                        "request %s (kind %s) expired with %zu of %lld approvals", v.id, v.kind,
                        v.approvals, v.required);
    if (strcmp(v.status, "failed") == 0)
        return failure_report(request, &v, e);
    return err_setc(e, ERR_INTERNAL, "answer", "request %s is %s", v.id, v.status);
}

/* ---- waiting --------------------------------------------------------------------------- */

static int64_t clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms milliseconds; 0, or -1 as soon as Ctrl-C was pressed. */
static int nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (!interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return interrupted ? -1 : 0;
}

/* A look that failed for now (unreachable, busy): said once per run of failures. */
static void look_failed(struct cli_ctx *ctx, struct waiting *w, const char *why)
{
    struct request_view v;

    if (!w->failing) {
        request_view(w->latest, &v);
        fprintf(ctx->err, "vouch: cannot read request %s now (%s); trying again\n", v.id, why);
    }
    w->failing = 1;
}

/*
 * Reads the request into w->latest: 1 if read, 0 if it could not be read now
 * (transport, 5xx, 429: tried again at the next look), -1 with e set if the
 * server refuses (the request is gone, the token no longer holds, ...).
 */
static int request_look(struct cli_ctx *ctx, struct waiting *w, struct err *e)
{
    struct cli_answer ans = {0};
    struct request_view v;
    struct err te;
    char text[sizeof(e->msg)];
    int rc = 0;

    err_clear(&te);
    if (cli_http_send(&ctx->cfg, "GET", w->path, NULL, &ans, &te) != 0) {
        look_failed(ctx, w, te.msg);
        return 0;
    }
    if (ans.status >= 500 || ans.status == 429) {
        look_failed(ctx, w, cli_error_text(ans.json, ans.status, text, sizeof(text)));
    } else if (ans.status != 200 || !json_is_object(ans.json)) {
        request_view(w->latest, &v);
        rc = err_setc(e, ERR_INTERNAL, "answer", "reading request %s: %s", v.id,
                      cli_error_text(ans.json, ans.status, text, sizeof(text)));
    } else {
        json_decref(w->latest);
        w->latest = json_incref(ans.json);
        w->failing = 0;
        rc = 1;
    }
    cli_answer_free(&ans);
    return rc;
}

/* The end of a wait that found no decision: -1 with e set, or CLI_EXIT_INTERRUPTED. */
static int wait_give_up(struct cli_ctx *ctx, const struct waiting *w, struct err *e)
{
    struct request_view v;

    request_view(w->latest, &v);
    if (ctx->cfg.json)
        cli_json_print(ctx->out, w->latest);
    if (!interrupted)
        return err_setc(e, ERR_UNAVAILABLE, "timeout",
                        "request %s is still pending after %ld s (%zu of %lld approvals); "
                        "follow it with: vouch request show %s",
                        v.id, w->timeout_s, v.approvals, v.required, v.id);
    fprintf(ctx->err,
            "vouch: stopped waiting; request %s stays pending (%zu of %lld approvals); "
            "follow it with: vouch request show %s\n",
            v.id, v.approvals, v.required, v.id);
    return CLI_EXIT_INTERRUPTED;
}

/* Looks until the request is decided, the time is up or Ctrl-C; returns as cli_request_answer. */
static int wait_loop(struct cli_ctx *ctx, const struct cli_call *call, struct waiting *w,
                     struct err *e)
{
    struct request_view v;
    size_t seen;
    int rc;

    request_view(w->latest, &v);
    seen = v.approvals;
    for (;;) {
        long left = (long)(w->deadline_ms - clock_ms());

        if (left <= 0 || nap(w->delay_ms < left ? w->delay_ms : left) != 0)
            return wait_give_up(ctx, w, e);
        if ((rc = request_look(ctx, w, e)) < 0)
            return -1;
        w->delay_ms = w->delay_ms * 2 < CLI_WAIT_LONGEST_MS ? w->delay_ms * 2 : CLI_WAIT_LONGEST_MS;
        if (rc == 0)
            continue;
        request_view(w->latest, &v);
        if (strcmp(v.status, "pending") != 0)
            return cli_request_outcome(ctx, call, w->latest, e);
        if (v.approvals != seen)
            fprintf(ctx->err, "vouch: request %s: %zu of %lld approvals\n", v.id, v.approvals,
                    v.required);
        seen = v.approvals;
    }
}

/* --wait: Ctrl-C interrupts only the waiting, then the handler before is back. */
static int request_wait(struct cli_ctx *ctx, const struct cli_call *call, const json_t *r,
                        long timeout_s, struct err *e)
{
    struct waiting w = {.latest = json_incref((json_t *)r),
                        .timeout_s = timeout_s,
                        .deadline_ms = clock_ms() + (int64_t)timeout_s * 1000,
                        .delay_ms = CLI_WAIT_FIRST_MS};
    struct sigaction on_int = {.sa_handler = on_interrupt}, before;
    struct request_view v;
    char *tenant = cli_escape(ctx->cfg.tenant), *id;
    int rc;

    request_view(r, &v);
    id = cli_escape(json_string_value(json_object_get(r, "id")));
    w.path = xasprintf("/api/v1/t/%s/requests/%s", tenant, id);
    fprintf(ctx->err,
            "vouch: request %s is pending: %zu of %lld approvals (kind %s); waiting up to %ld s "
            "for the decision (Ctrl-C stops waiting)\n",
            v.id, v.approvals, v.required, v.kind, timeout_s);
    interrupted = 0;
    sigemptyset(&on_int.sa_mask); /* no SA_RESTART: Ctrl-C ends a sleep at once */
    sigaction(SIGINT, &on_int, &before);
    rc = wait_loop(ctx, call, &w, e);
    sigaction(SIGINT, &before, NULL);
    json_decref(w.latest);
    free(w.path);
    free(id);
    free(tenant);
    return rc;
}

int cli_request_answer(struct cli_ctx *ctx, const struct cli_call *call,
                       const struct cli_answer *ans, struct err *e)
{
    const char *status = json_string_value(json_object_get(ans->json, "status"));
    long timeout_s;

    if (strcmp(status, "pending") != 0)
        return cli_request_outcome(ctx, call, ans->json, e);
    if (cli_wait_timeout(call, &timeout_s, e) != 0)
        return -1;
    if (timeout_s == 0)
        return pending_show(ctx, call, ans->json);
    return request_wait(ctx, call, ans->json, timeout_s, e);
}
