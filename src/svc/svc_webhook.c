/*
 * svc_webhook.c — a tenant's webhook: RA events POSTed as JSON, signed with
 * HMAC-SHA256.
 *
 * An event is written to webhook_events in the transaction of the change it
 * announces (an outbox), so none is lost and none is sent for a change that
 * was rolled back.  A delivery thread on each node takes, per tenant, the
 * database lease "webhooks" (one node delivers a tenant's events at a time),
 * POSTs each due event and deletes it on a 2xx answer; otherwise it retries
 * with a doubling delay (2 s to an hour) and gives up after
 * WEBHOOK_ATTEMPTS, audited as webhook.failed.  Delivery is at least once:
 * receivers deduplicate on X-Vouch-Delivery.
 *
 * Signature: X-Vouch-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>
 * with X-Vouch-Timestamp (Unix seconds), so a receiver can refuse replays.
 *
 * The secret is the signer's (keys.h, signer_webhook_new): derived there from
 * a signature by an RSA key of the tenant (made at its first webhook, reused
 * for the next) over a random nonce.  The database holds the key id and the
 * nonce, this process the secret only while it hands it to the administrator
 * once; each delivery asks the signer for the MAC.  Webhooks set before
 * schema 12 keep their stored secret (signed here) until they are set again.
 */
#include "svc/svc_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/log.h"

#define WEBHOOK_ATTEMPTS 10
#define WEBHOOK_TIMEOUT  5 /* seconds per POST */

static const struct actor deliverer = {.id = "webhook"};

/* http(s)://host[:port]/path, printable, no spaces, no credentials. */
static int url_ok(const char *url)
{
    const char *p, *host;

    if (strlen(url) > 2000)
        return 0;
    if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else
        return 0;
    if (*host == '\0' || *host == '/')
        return 0;
    for (p = url; *p; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return 0;
    p = strchr(host, '/');
    return memchr(host, '@', p ? (size_t)(p - host) : strlen(host)) == NULL;
}

/* The key id of tenant's webhook key: the current webhook's, else a new RSA key (*made set). */
static char *webhook_key(struct svc *s, const char *tenant, int *made, struct err *e)
{
    struct webhook_rec *old = NULL;
    struct store_tx *tx;
    EVP_PKEY *pub = NULL;
    char *key_id = NULL;

    *made = 0;
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return NULL;
    if (store_webhook_get(tx, tenant, &old, e) == 0 && old->key_id != NULL)
        key_id = xstrdup(old->key_id);
    store_rollback(tx);
    webhook_rec_free(old);
    if (key_id != NULL)
        return key_id;
    if (signer_keygen_for(s->signer, tenant, KEY_RSA_2048, KEY_PURPOSE_WEBHOOK, &key_id, &pub, e) !=
        0)
        return NULL;
    EVP_PKEY_free(pub);
    *made = 1;
    return key_id;
}

int svc_webhook_put(struct svc *s, const struct actor *a, const char *tenant, const char *url,
                    char **secret, struct err *e)
{
    struct webhook_rec r = {.url = (char *)url, .secret = "", .created = time_now()};
    struct store_tx *tx;
    char *detail, *text = NULL;
    struct err e2;
    json_t *d;
    int made = 0, rc = -1;

    if (!s->webhooks_enabled)
        return err_set(e, ERR_FORBIDDEN,
                       "webhooks are not enabled on this installation (webhooks_enabled)");
    if (url == NULL || !url_ok(url))
        return err_set(e, ERR_INVALID, "url: an http:// or https:// URL without credentials");
    if ((r.key_id = webhook_key(s, tenant, &made, e)) == NULL)
        return -1;
    if (signer_webhook_new(s->signer, tenant, r.key_id, &r.nonce, &text, e) != 0)
        goto out;
    d = json_pack("{s:s, s:s}", "url", url, "key", r.key_id);
    detail = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    if ((tx = store_begin(s->store, e)) != NULL && store_webhook_put(tx, tenant, &r, e) == 0 &&
        svc_audit_ok(tx, tenant, a, "webhook.put", url, detail, e) == 0)
        rc = store_commit(tx, e);
    else
        store_rollback(tx);
    free(detail);
out:
    if (rc != 0 && made && signer_delete(s->signer, tenant, r.key_id, &e2) != 0)
        log_warn("tenant %s: webhook key %s left behind: %s", tenant, r.key_id, e2.msg);
    if (rc == 0) {
        *secret = text;
        text = NULL;
    }
    if (text != NULL)
        secure_zero(text, strlen(text));
    free(text);
    free(r.key_id);
    free(r.nonce);
    return rc;
}

int svc_webhook_delete(struct svc *s, const struct actor *a, const char *tenant, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);

    if (tx == NULL)
        return -1;
    if (store_webhook_delete(tx, tenant, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "webhook.delete", tenant, NULL, e) != 0) {
        store_rollback(tx);
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "no webhook");
        return -1;
    }
    return store_commit(tx, e);
}

int svc_webhook_get(struct svc *s, const char *tenant, struct webhook_rec **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_webhook_get(tx, tenant, out, e);
    store_rollback(tx);
    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "no webhook");
    return rc;
}

int svc_webhook_enqueue(struct svc *s, struct store_tx *tx, const char *tenant, const char *event,
                        json_t *data, struct err *e)
{
    struct webhook_rec *hook = NULL;
    struct webhook_event_rec ev = {.event = (char *)event, .status = "pending"};
    json_t *body;
    int rc;

    (void)s;
    if (store_webhook_get(tx, tenant, &hook, e) != 0)
        return e->kind == ERR_NOT_FOUND ? 0 : -1; /* no webhook: nothing to announce */
    webhook_rec_free(hook);
    if ((ev.id = random_id("evt")) == NULL)
        return err_set(e, ERR_INTERNAL, "webhook: no randomness");
    ev.created = ev.next_attempt = time_now();
    body = json_pack("{s:s, s:s, s:s, s:I, s:O}", "id", ev.id, "event", event, "tenant", tenant,
                     "time", (json_int_t)ev.created, "data", data);
    ev.body = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    rc = store_webhook_event_insert(tx, tenant, &ev, e);
    free(ev.id);
    free(ev.body);
    return rc;
}

/* ---- delivery ------------------------------------------------------------------ */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* hex HMAC-SHA256 of text under hook's secret (the signer's; a pre-12 hook's own); NULL: why. */
static char *event_mac(struct svc *s, const struct webhook_rec *hook, const char *text, char *why,
                       size_t why_len)
{
    unsigned char legacy[EVP_MAX_MD_SIZE], *mac = NULL;
    unsigned int legacy_len = 0;
    size_t mac_len = 0;
    struct err e;
    char *hex;

    if (hook->key_id == NULL || hook->nonce == NULL) {
        if (HMAC(EVP_sha256(), hook->secret, (int)strlen(hook->secret), (const unsigned char *)text,
                 strlen(text), legacy, &legacy_len) == NULL)
            return snprintf(why, why_len, "HMAC failed"), NULL;
        return hex_encode(legacy, legacy_len);
    }
    if (signer_webhook_mac(s->signer, hook->tenant, hook->key_id, hook->nonce,
                           (const unsigned char *)text, strlen(text), &mac, &mac_len, &e) != 0)
        return snprintf(why, why_len, "signature: %.200s", e.msg), NULL;
    hex = hex_encode(mac, mac_len);
    free(mac);
    return hex;
}

/* POSTs ev to hook; 0 on a 2xx answer, else -1 with why (for the log and the audit). */
static int post_event(struct svc *s, const struct webhook_rec *hook,
                      const struct webhook_event_rec *ev, char *why, size_t why_len)
{
    char stamp[32], *signed_text, *hex, *h_sig, *h_stamp, *h_id, *h_event;
    struct curl_slist *headers = NULL;
    CURL *c;
    long status = 0;
    CURLcode cc;

    snprintf(stamp, sizeof(stamp), "%" PRId64, time_now());
    signed_text = xasprintf("%s.%s", stamp, ev->body);
    hex = event_mac(s, hook, signed_text, why, why_len);
    free(signed_text);
    if (hex == NULL)
        return -1;
    if ((c = curl_easy_init()) == NULL) {
        free(hex);
        return snprintf(why, why_len, "curl: cannot start"), -1;
    }
    h_sig = xasprintf("X-Vouch-Signature: sha256=%s", hex);
    h_stamp = xasprintf("X-Vouch-Timestamp: %s", stamp);
    h_id = xasprintf("X-Vouch-Delivery: %s", ev->id);
    h_event = xasprintf("X-Vouch-Event: %s", ev->event);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, h_sig);
    headers = curl_slist_append(headers, h_stamp);
    headers = curl_slist_append(headers, h_id);
    headers = curl_slist_append(headers, h_event);
    curl_easy_setopt(c, CURLOPT_URL, hook->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, ev->body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        snprintf(why, why_len, "%s", curl_easy_strerror(cc));
    else if (status < 200 || status > 299)
        snprintf(why, why_len, "HTTP %ld", status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    free(hex);
    free(h_sig);
    free(h_stamp);
    free(h_id);
    free(h_event);
    return cc == CURLE_OK && status >= 200 && status <= 299 ? 0 : -1;
}

/* Records the outcome of one attempt: delivered (row deleted), retried later, or given up. */
static void attempt_record(struct svc *s, const char *tenant, struct webhook_event_rec *ev,
                           int delivered, const char *why)
{
    struct store_tx *tx;
    struct err e;
    char *detail = NULL;
    int rc;

    if ((tx = store_begin(s->store, &e)) == NULL)
        return;
    if (delivered) {
        rc = store_webhook_event_delete(tx, tenant, ev->id, &e);
    } else {
        ev->attempts++;
        ev->next_attempt = time_now() + (ev->attempts < 12 ? (1 << ev->attempts) : 3600);
        if (ev->next_attempt - time_now() > 3600)
            ev->next_attempt = time_now() + 3600;
        free(ev->status);
        ev->status = xstrdup(ev->attempts >= WEBHOOK_ATTEMPTS ? "failed" : "pending");
        rc = store_webhook_event_update(tx, tenant, ev, &e);
        if (rc == 0 && ev->attempts >= WEBHOOK_ATTEMPTS) {
            json_t *d = json_pack("{s:s, s:i, s:s}", "event", ev->event, "attempts", ev->attempts,
                                  "error", why);
            detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(d);
            rc = svc_audit_ok(tx, tenant, &deliverer, "webhook.failed", ev->id, detail, &e);
        }
    }
    if (rc == 0)
        rc = store_commit(tx, &e);
    else
        store_rollback(tx);
    if (rc != 0)
        log_warn("tenant %s: webhook event %s: %s", tenant, ev->id, e.msg);
    free(detail);
}

/* Delivers tenant's due events; the number delivered. */
static int deliver_tenant(struct svc *s, const char *tenant)
{
    struct webhook_event_rec **evs = NULL;
    struct webhook_rec *hook = NULL;
    struct store_tx *tx;
    size_t n = 0;
    char why[256];
    struct err e;
    int sent = 0, rc;

    if ((tx = store_begin_read(s->store, &e)) == NULL)
        return 0;
    rc = store_webhook_event_due(tx, tenant, time_now(), 50, &evs, &n, &e);
    if (rc == 0 && n > 0 && store_webhook_get(tx, tenant, &hook, &e) != 0)
        hook = NULL; /* deleted since: the events wait for a new one */
    store_rollback(tx);
    /* One node delivers a tenant's events at a time (the others find the lease held). */
    if (hook != NULL && !svc_lease(s, tenant, "webhooks", "delivery", 60)) {
        webhook_rec_free(hook);
        hook = NULL;
    }
    for (size_t i = 0; i < n && hook != NULL; i++) {
        why[0] = '\0';
        if (post_event(s, hook, evs[i], why, sizeof(why)) == 0) {
            attempt_record(s, tenant, evs[i], 1, NULL);
            sent++;
        } else {
            log_warn("tenant %s: webhook event %s (%s): %s", tenant, evs[i]->id, evs[i]->event,
                     why);
            attempt_record(s, tenant, evs[i], 0, why);
        }
    }
    webhook_rec_free(hook);
    webhook_event_rec_list_free(evs, n);
    return sent;
}

int svc_webhook_tick(struct svc *s, struct err *e)
{
    struct tenant_rec **list = NULL;
    size_t n = 0;
    int sent = 0;

    if (svc_tenants(s, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i]->status, "purged") != 0)
            sent += deliver_tenant(s, list[i]->name);
        tenant_rec_free(list[i]);
    }
    free(list);
    return sent;
}
