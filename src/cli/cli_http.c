/*
 * cli_http.c — one HTTP exchange with vouchd through libcurl: bounded
 * answer size, timeouts, no redirects, TLS verified against --cacert (or the
 * system store).  The token goes into one header and nowhere else.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli_internal.h"

#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S   300L /* server-side key generation (RSA-4096) can take a while */

struct sink {
    struct buf *body;
    int too_large;
};

static size_t sink_write(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;

    if (s->body->len + len > CLI_RESPONSE_MAX) {
        s->too_large = 1;
        return 0; /* aborts the transfer */
    }
    buf_append(s->body, data, len);
    return len;
}

static struct curl_slist *header_add(struct curl_slist *list, const char *h)
{
    struct curl_slist *l = curl_slist_append(list, h);

    if (l == NULL)
        abort(); /* only out of memory */
    return l;
}

/* The request headers; the caller frees them with curl_slist_free_all. */
static struct curl_slist *headers_make(const struct cli_config *cfg, int has_body)
{
    struct curl_slist *h = header_add(NULL, "Accept: application/json, application/x-ndjson");
    char *auth;

    h = header_add(h, "Expect:");
    if (has_body)
        h = header_add(h, "Content-Type: application/json");
    if (cfg->token != NULL) {
        auth = xasprintf("Authorization: Bearer %s", cfg->token);
        h = header_add(h, auth);
        secure_zero(auth, strlen(auth));
        free(auth);
    }
    return h;
}

/* Frees the headers, wiping the token first. */
static void headers_free(struct curl_slist *headers)
{
    for (struct curl_slist *l = headers; l != NULL; l = l->next)
        secure_zero(l->data, strlen(l->data));
    curl_slist_free_all(headers);
}

/* 0 if every option was accepted. */
static int easy_setup(CURL *c, const struct cli_config *cfg, const char *url, const char *method,
                      const char *body, struct curl_slist *headers, struct sink *sink, char *errbuf)
{
    int bad = 0;

    bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, sink) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CLI_RESPONSE_MAX) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "vouch-cli/1") != CURLE_OK;
    if (cfg->cacert != NULL && *cfg->cacert != '\0')
        bad |= curl_easy_setopt(c, CURLOPT_CAINFO, cfg->cacert) != CURLE_OK;
    if (body != NULL)
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK;
    return bad ? -1 : 0;
}

/* Fills status, content type and JSON of ans after a completed transfer. */
static void answer_finish(CURL *c, struct cli_answer *ans)
{
    char *type = NULL;
    json_error_t jerr;

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != NULL)
        ans->content_type = xstrdup(type);
    buf_append(&ans->body, "", 1);
    ans->body.len--;
    if (ans->body.len > 0 && ans->content_type != NULL &&
        strncmp(ans->content_type, "application/json", 16) == 0)
        ans->json = json_loadb((const char *)ans->body.data, ans->body.len, 0, &jerr);
}

static int transfer_error(CURLcode rc, const struct sink *sink, const char *url, const char *errbuf,
                          struct err *e)
{
    if (sink->too_large || rc == CURLE_FILESIZE_EXCEEDED)
        return err_setc(e, ERR_UNAVAILABLE, "transport", "%s: answer larger than %d MiB", url,
                        CLI_RESPONSE_MAX / (1024 * 1024));
    return err_setc(e, ERR_UNAVAILABLE, "transport", "%s: %s", url,
                    *errbuf ? errbuf : curl_easy_strerror(rc));
}

int cli_http_send(const struct cli_config *cfg, const char *method, const char *path,
                  const json_t *body, struct cli_answer *ans, struct err *e)
{
    struct cli_answer got = {0};
    struct sink sink = {&got.body, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    char *url = xasprintf("%s%s", cfg->url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *headers = headers_make(cfg, text != NULL);
    CURL *c = curl_easy_init();
    CURLcode rc;
    int ret = -1;

    if (c == NULL || easy_setup(c, cfg, url, method, text, headers, &sink, errbuf) != 0) {
        err_setc(e, ERR_UNAVAILABLE, "transport", "libcurl refused the request settings");
        goto out;
    }
    if ((rc = curl_easy_perform(c)) != CURLE_OK) {
        transfer_error(rc, &sink, url, errbuf, e);
        goto out;
    }
    answer_finish(c, &got);
    *ans = got;
    memset(&got, 0, sizeof(got));
    ret = 0;
out:
    cli_answer_free(&got);
    curl_easy_cleanup(c);
    headers_free(headers);
    if (text != NULL)
        secure_zero(text, strlen(text)); /* may hold a password */
    free(text);
    free(url);
    return ret;
}

void cli_answer_free(struct cli_answer *ans)
{
    if (ans == NULL)
        return;
    free(ans->content_type);
    buf_free(&ans->body);
    json_decref(ans->json);
    memset(ans, 0, sizeof(*ans));
}
