/*
 * mail.c — one e-mail through SMTP with libcurl (see mail.h).
 */
#include "lib/mail.h"

#include <string.h>

#include <curl/curl.h>

int mail_address_valid(const char *addr)
{
    const char *at = addr != NULL ? strchr(addr, '@') : NULL;
    size_t len;

    if (at == NULL || at == addr || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return 0;
    if ((len = strlen(addr)) > 254)
        return 0;
    for (const unsigned char *p = (const unsigned char *)addr; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("<>,;:\"()[]\\", *p) != NULL)
            return 0;
    return 1;
}

struct reader {
    const char *data;
    size_t left;
};

static size_t mail_read(char *out, size_t size, size_t count, void *arg)
{
    struct reader *r = arg;
    size_t n = size * count < r->left ? size * count : r->left;

    memcpy(out, r->data, n);
    r->data += n;
    r->left -= n;
    return n;
}

/* The recipients as libcurl's list of "<addr>"; NULL if one is not a valid address. */
static struct curl_slist *mail_recipients(const char *const *rcpt, size_t n, struct err *e)
{
    struct curl_slist *list = NULL;
    char line[300];

    for (size_t i = 0; i < n; i++) {
        if (!mail_address_valid(rcpt[i])) {
            curl_slist_free_all(list);
            err_set(e, ERR_INVALID, "not an e-mail address: recipient %zu", i + 1);
            return NULL;
        }
        snprintf(line, sizeof(line), "<%s>", rcpt[i]);
        list = curl_slist_append(list, line);
    }
    return list;
}

int mail_send(const struct mail_server *m, const char *const *rcpt, size_t n, const char *message,
              struct err *e)
{
    struct reader r = {message, strlen(message)};
    struct curl_slist *to;
    char from[300];
    CURL *c;
    CURLcode rc;

    if (n == 0 || !mail_address_valid(m->from))
        return err_set(e, ERR_INVALID, "mail: no recipient, or smtp_from is not an address");
    if ((to = mail_recipients(rcpt, n, e)) == NULL)
        return -1;
    if ((c = curl_easy_init()) == NULL) {
        curl_slist_free_all(to);
        return err_set(e, ERR_INTERNAL, "mail: curl_easy_init failed");
    }
    snprintf(from, sizeof(from), "<%s>", m->from);
    curl_easy_setopt(c, CURLOPT_URL, m->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &r);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, m->timeout_seconds > 0 ? m->timeout_seconds : 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     m->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
    if (m->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, m->ca_file);
    if (m->user != NULL) {
        curl_easy_setopt(c, CURLOPT_USERNAME, m->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, m->password != NULL ? m->password : "");
    }
    rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(to);
    if (rc != CURLE_OK)
        return err_set(e, ERR_UNAVAILABLE, "mail to %s: %s", m->url, curl_easy_strerror(rc));
    return 0;
}
