/*
 * svc_notice.c — expiry notices (issue 21, point 2).  Per tenant, at
 * thresholds before a certificate or one of the tenant's CAs expires (by
 * default 30, 14, 7 and 1 days), a notice: an audit event in the tenant's
 * chain, the webhook event certificate.expiring and an e-mail to the
 * certificate's entity and the tenant's notice addresses.
 *
 * Deciding and sending are apart.  One query finds what is due; each notice
 * is a row in `notices` (unique per tenant, serial, threshold) inserted in
 * the transaction that writes its audit and webhook events, so of two nodes
 * one decides it and the other's insert clashes.  A notice to be mailed stays
 * "pending" until its mail went through; a failed delivery is tried again
 * later, with a growing pause, and given up ("failed") after
 * NOTICE_MAIL_TRIES.  A certificate that crossed several thresholds at once
 * (issued with a short validity, or the scheduler was down) gets one notice,
 * for the nearest threshold; renewal (a certificate renewed_from it) and
 * revocation stop its notices.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/json_field.h"
#include "lib/log.h"

#define NOTICE_PAGE         200
#define NOTICE_MAIL_PAGE    50
#define NOTICE_MAIL_TRIES   10
#define NOTICE_MAIL_SECONDS 60 /* mailing per tenant and tick; the lease is 120 s */

static const int default_days[] = {1, 7, 14, 30}; /* ascending, as notice_conf keeps them */

/* A tenant's notice settings, parsed. */
struct notice_conf {
    int enabled;
    int days[NOTICE_THRESHOLDS_MAX]; /* ascending */
    int n;
    json_t *recipients; /* array of addresses (a reference) */
};

static int int_cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int svc_notice_thresholds_parse(const json_t *arr, int *days, int *n, struct err *e)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) < 1 ||
        json_array_size(arr) > NOTICE_THRESHOLDS_MAX)
        return err_set(e, ERR_INVALID, "thresholds: an array of 1 to %d numbers of days",
                       NOTICE_THRESHOLDS_MAX);
    json_array_foreach(arr, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 3650)
            return err_set(e, ERR_INVALID, "thresholds: days from 1 to 3650");
        days[i] = (int)json_integer_value(v);
    }
    qsort(days, json_array_size(arr), sizeof(int), int_cmp);
    for (i = 1; i < json_array_size(arr); i++)
        if (days[i] == days[i - 1])
            return err_set(e, ERR_INVALID, "thresholds: %d days given twice", days[i]);
    *n = (int)json_array_size(arr);
    return 0;
}

static void notice_conf_free(struct notice_conf *c)
{
    json_decref(c->recipients);
}

/* The tenant's settings (the defaults if it has none), in tx. */
static int notice_conf_load(struct store_tx *tx, const char *tenant, struct notice_conf *c,
                            struct err *e)
{
    struct notice_settings_rec *r = NULL;
    json_t *days;
    int rc;

    memset(c, 0, sizeof(*c));
    if (store_notice_settings_get(tx, tenant, &r, e) != 0) {
        if (e->kind != ERR_NOT_FOUND)
            return -1;
        c->enabled = 1;
        c->n = (int)ARRAY_LEN(default_days);
        memcpy(c->days, default_days, sizeof(default_days));
        c->recipients = json_array();
        return 0;
    }
    c->enabled = r->enabled;
    days = json_loads(r->thresholds, 0, NULL);
    c->recipients = json_loads(r->recipients, 0, NULL);
    rc = svc_notice_thresholds_parse(days, c->days, &c->n, e);
    if (rc == 0 && !json_is_array(c->recipients))
        rc = err_set(e, ERR_INTERNAL, "notice settings: stored recipients are not an array");
    json_decref(days);
    notice_settings_rec_free(r);
    if (rc != 0)
        notice_conf_free(c);
    return rc;
}

/* The nearest threshold (days) that `left` seconds before expiry have crossed; 0 if none. */
static int notice_threshold(const struct notice_conf *c, int64_t left)
{
    for (int i = 0; i < c->n; i++)
        if (left <= (int64_t)c->days[i] * 86400)
            return c->days[i];
    return 0;
}

/* ---- deciding ---------------------------------------------------------------- */

static const struct actor notice_scheduler = {.id = "scheduler"};

/*
 * Records the notice of (serial, days) with its audit event and webhook
 * event in tx.  1 if decided, 0 if another node (or an earlier tick)
 * decided it, -1 with e set.
 */
static int notice_decide(struct svc *s, struct store_tx *tx, const char *tenant, const char *kind,
                         const char *serial, int days, json_t *data, struct err *e)
{
    const char *state = s->mail.url != NULL ? "pending" : "sent";
    char *detail;
    int rc;

    if (store_notice_claim(tx, tenant, serial, days, kind, state, time_now(), e) != 0)
        return e->kind == ERR_CONFLICT ? 0 : -1;
    json_object_set_new(data, "threshold_days", json_integer(days));
    json_object_set_new(data, "kind", json_string(kind));
    detail = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    rc = svc_audit_ok(tx, tenant, &notice_scheduler,
                      strcmp(kind, "ca") == 0 ? "ca.expiring" : "cert.expiring", serial, detail,
                      e) == 0 &&
                 svc_webhook_enqueue(s, tx, tenant, "certificate.expiring", data, e) == 0
             ? 1
             : -1;
    free(detail);
    return rc;
}

static int notice_certs(struct svc *s, struct store_tx *tx, const char *tenant,
                        const struct notice_conf *c, int64_t now, struct err *e)
{
    struct cert_rec **list = NULL;
    size_t n = 0;
    int count = 0, rc = 0, made;

    if (store_notice_due(tx, tenant, now, c->days, c->n, NOTICE_PAGE, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct cert_rec *r = list[i];
        json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:I}", "serial", r->serial, "ca", r->ca,
                              "profile", r->profile ? r->profile : "", "subject",
                              r->subject ? r->subject : "", "not_after", (json_int_t)r->not_after);

        made = notice_decide(s, tx, tenant, "cert", r->serial,
                             notice_threshold(c, r->not_after - now), d, e);
        json_decref(d);
        if (made < 0)
            rc = -1;
        count += made > 0;
    }
    cert_rec_list_free(list, n);
    return rc == 0 ? count : -1;
}

static int notice_cas(struct svc *s, struct store_tx *tx, const char *tenant,
                      const struct notice_conf *c, int64_t now, struct err *e)
{
    struct ca_rec **list = NULL;
    size_t n = 0;
    int count = 0, rc = 0, made;

    if (store_notice_ca_due(tx, tenant, now, c->days, c->n, NOTICE_PAGE, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *serial = xasprintf("ca:%s", list[i]->name);
        json_t *d = json_pack("{s:s, s:s, s:I}", "ca", list[i]->name, "subject",
                              list[i]->subject ? list[i]->subject : "", "not_after",
                              (json_int_t)list[i]->not_after);

        made = notice_decide(s, tx, tenant, "ca", serial,
                             notice_threshold(c, list[i]->not_after - now), d, e);
        json_decref(d);
        free(serial);
        if (made < 0)
            rc = -1;
        count += made > 0;
    }
    for (size_t i = 0; i < n; i++)
        ca_rec_free(list[i]);
    free(list);
    return rc == 0 ? count : -1;
}

/* Decides the tenant's due notices in one transaction: the number decided, or -1. */
static int notice_scan(struct svc *s, const char *tenant, int64_t now, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);
    struct notice_conf c;
    int certs = 0, cas = 0;

    if (tx == NULL)
        return -1;
    if (notice_conf_load(tx, tenant, &c, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    if (c.enabled && ((certs = notice_certs(s, tx, tenant, &c, now, e)) < 0 ||
                      (cas = notice_cas(s, tx, tenant, &c, now, e)) < 0)) {
        notice_conf_free(&c);
        store_rollback(tx);
        return -1;
    }
    notice_conf_free(&c);
    if (certs + cas == 0) {
        store_rollback(tx);
        return 0;
    }
    return store_commit(tx, e) == 0 ? certs + cas : -1;
}

/* ---- mailing ----------------------------------------------------------------- */

void svc_notice_mail_set(struct svc *s, const struct svc_config *cfg)
{
    free((char *)s->mail.url);
    free((char *)s->mail.from);
    free((char *)s->mail.user);
    if (s->mail.password != NULL)
        secure_zero((char *)s->mail.password, strlen(s->mail.password));
    free((char *)s->mail.password);
    free((char *)s->mail.ca_file);
    memset(&s->mail, 0, sizeof(s->mail));
    if (cfg == NULL || cfg->smtp_url == NULL)
        return;
    s->mail.url = xstrdup(cfg->smtp_url);
    s->mail.from = xstrdup(cfg->smtp_from != NULL ? cfg->smtp_from : "vouch@localhost");
    s->mail.user = cfg->smtp_user != NULL ? xstrdup(cfg->smtp_user) : NULL;
    s->mail.password = cfg->smtp_password != NULL ? xstrdup(cfg->smtp_password) : NULL;
    s->mail.ca_file = cfg->smtp_ca_file != NULL ? xstrdup(cfg->smtp_ca_file) : NULL;
    s->mail.starttls = cfg->smtp_starttls;
    s->mail.timeout_seconds = 30;
}

/* One notice's mail: recipients (valid addresses, each once) and the message. */
struct notice_mail {
    const char *rcpt[32];
    size_t n;
    struct buf text;
};

static void mail_add_rcpt(struct notice_mail *m, const char *addr)
{
    if (!mail_address_valid(addr) || m->n == ARRAY_LEN(m->rcpt))
        return;
    for (size_t i = 0; i < m->n; i++)
        if (strcasecmp(m->rcpt[i], addr) == 0)
            return;
    m->rcpt[m->n++] = addr;
}

static void mail_line(struct buf *b, const char *fmt, const char *value)
{
    char *line = xasprintf(fmt, value);

    /* No control character from stored data reaches a header or the body's lines. */
    for (char *p = line; *p != '\0'; p++)
        if ((unsigned char)*p < ' ' && *p != '\n')
            *p = '?';
    for (char *p = line; *p != '\0'; p++)
        buf_append(b, *p == '\n' ? "\r\n" : p, *p == '\n' ? 2 : 1);
    free(line);
}

/* Headers and body of the mail of notice r about what (subject DN), expiring at not_after. */
static void mail_compose(struct svc *s, struct notice_mail *m, const struct notice_rec *r,
                         const char *what, const char *ca, int64_t not_after)
{
    char date[64], when[32], days[16];
    struct tm tm;
    time_t now = (time_t)time_now(), t = (time_t)not_after;
    int is_ca = strcmp(r->kind, "ca") == 0;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(days, sizeof(days), "%lld", (long long)r->threshold);
    mail_line(&m->text, "Date: %s\n", date);
    mail_line(&m->text, "From: <%s>\n", s->mail.from);
    for (size_t i = 0; i < m->n; i++)
        mail_line(&m->text, i == 0 ? "To: <%s>" : ",\n <%s>", m->rcpt[i]);
    mail_line(&m->text, "%s\n", "");
    mail_line(&m->text, is_ca ? "Subject: [vouch] CA %s" : "Subject: [vouch] certificate %s",
              is_ca ? ca : r->serial);
    mail_line(&m->text, " of tenant %s expires within ", r->tenant);
    mail_line(&m->text, "%s day(s)\n", days);
    mail_line(&m->text, "%s\n", "MIME-Version: 1.0");
    mail_line(&m->text, "%s\n", "Content-Type: text/plain; charset=utf-8");
    mail_line(&m->text, "%s\n\n", "Auto-Submitted: auto-generated");
    mail_line(&m->text, is_ca ? "The CA %s" : "The certificate %s", is_ca ? ca : r->serial);
    mail_line(&m->text, " of tenant %s", r->tenant);
    mail_line(&m->text, " expires at %s", when);
    mail_line(&m->text, " (%s day(s) or less from now).\n", days);
    mail_line(&m->text, "Subject: %s\n", what != NULL ? what : "");
    if (!is_ca)
        mail_line(&m->text, "Issuer CA: %s\n", ca);
    mail_line(&m->text, "%s\n",
              is_ca ? "Renew or replace the CA before then." : "Renew it before then.");
    buf_append(&m->text, "", 1);
}

/*
 * The mail of notice r (in tx, read only): 1 with m filled, 0 if it has no
 * recipient (or its certificate is gone), -1 with e set.
 */
static int mail_prepare(struct svc *s, struct store_tx *tx, const struct notice_rec *r,
                        json_t *recipients, struct notice_mail *m, char **keep, struct err *e)
{
    struct cert_rec *cert = NULL;
    struct entity_rec *ent = NULL;
    struct ca_rec *ca = NULL;
    size_t i;
    json_t *v;

    if (strcmp(r->kind, "ca") == 0) {
        if (store_ca_get(tx, r->tenant, r->serial + 3, &ca, e) != 0)
            return e->kind == ERR_NOT_FOUND ? 0 : -1;
    } else if (store_cert_get(tx, r->tenant, r->serial, &cert, e) != 0) {
        return e->kind == ERR_NOT_FOUND ? 0 : -1;
    } else if (cert->entity_id != NULL &&
               store_entity_get(tx, r->tenant, cert->entity_id, &ent, e) == 0 &&
               ent->email != NULL) {
        *keep = xstrdup(ent->email); /* the certificate's contact */
        mail_add_rcpt(m, *keep);
    }
    json_array_foreach(recipients, i, v) mail_add_rcpt(m, json_string_value(v));
    if (m->n > 0)
        mail_compose(s, m, r, ca != NULL ? ca->subject : cert->subject,
                     ca != NULL ? ca->name : cert->ca,
                     ca != NULL ? ca->not_after : cert->not_after);
    entity_rec_free(ent);
    cert_rec_free(cert);
    ca_rec_free(ca);
    return m->n > 0 ? 1 : 0;
}

/* Records the outcome of one try (sent: 1 delivered, 0 nothing to send, -1 failed). */
static void mail_record(struct svc *s, struct notice_rec *r, int sent, const struct err *why)
{
    struct store_tx *tx;
    struct err e;
    int64_t now = time_now();
    char *detail;
    int rc;

    r->attempts += sent != 0;
    if (sent >= 0) {
        free(r->state);
        r->state = xstrdup(sent > 0 ? "sent" : "unaddressed");
        r->sent_at = sent > 0 ? now : 0;
    } else if (r->attempts >= NOTICE_MAIL_TRIES) {
        free(r->state);
        r->state = xstrdup("failed");
    } else {
        r->next_try = now + (60LL << (r->attempts < 8 ? r->attempts : 8)); /* 2 min .. ~4 h */
    }
    if ((tx = store_begin(s->store, &e)) == NULL) {
        log_warn("tenant %s: notice %s: %s", r->tenant, r->serial, e.msg);
        return;
    }
    detail = xasprintf("{\"attempts\":%lld,\"state\":\"%s\",\"threshold_days\":%lld}",
                       (long long)r->attempts, r->state, (long long)r->threshold);
    rc = store_notice_mark(tx, r->tenant, r, &e);
    if (rc == 0 && sent != 0 && (sent > 0 || strcmp(r->state, "failed") == 0))
        rc = sent > 0 ? svc_audit_ok(tx, r->tenant, &notice_scheduler, "notice.mailed", r->serial,
                                     detail, &e)
                      : svc_audit_ok(tx, r->tenant, &notice_scheduler, "notice.failed", r->serial,
                                     detail, &e);
    free(detail);
    if (rc != 0 || store_commit(tx, &e) != 0) {
        store_rollback(tx);
        log_warn("tenant %s: notice %s: %s", r->tenant, r->serial, e.msg);
        return;
    }
    if (sent < 0)
        log_warn("tenant %s: notice %s (%lld days): mail not sent (try %lld): %s", r->tenant,
                 r->serial, (long long)r->threshold, (long long)r->attempts, why->msg);
}

/* The mail of notice r, read in a transaction of its own: as mail_prepare. */
static int mail_read(struct svc *s, const struct notice_rec *r, json_t *recipients,
                     struct notice_mail *m, char **contact, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = mail_prepare(s, tx, r, recipients, m, contact, e);
    store_rollback(tx);
    return rc;
}

/*
 * Mails the tenant's pending notices (no transaction is held while the SMTP
 * server answers): the number sent, or -1 with e set.  The scheduler's loop
 * waits meanwhile, so a tick stops at the first server failure (the rest
 * wait for the next tick) and after NOTICE_MAIL_SECONDS (well inside the
 * tenant's lease: no other node mails the same notice).
 */
static int notice_mail(struct svc *s, const char *tenant, int64_t now, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct notice_rec **list = NULL;
    struct notice_conf c;
    int64_t start = time_now();
    size_t n = 0;
    int sent = 0, rc = 0, away = 0;

    if (tx == NULL)
        return -1;
    if (notice_conf_load(tx, tenant, &c, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    rc = store_notice_pending(tx, tenant, now, NOTICE_MAIL_PAGE, &list, &n, e);
    store_rollback(tx);
    for (size_t i = 0; rc == 0 && !away && i < n && time_now() - start < NOTICE_MAIL_SECONDS; i++) {
        struct notice_mail m = {.n = 0};
        char *contact = NULL;
        struct err why = {.kind = ERR_NONE};
        int ready = mail_read(s, list[i], c.recipients, &m, &contact, &why);

        if (ready < 0) {
            rc = err_set(e, why.kind, "%s", why.msg); /* the database: tried at the next tick */
        } else {
            if (ready > 0)
                ready =
                    mail_send(&s->mail, m.rcpt, m.n, (const char *)m.text.data, &why) == 0 ? 1 : -1;
            mail_record(s, list[i], ready, &why);
            sent += ready > 0;
            /* The server is away: the others wait for the next tick. */
            away = ready < 0 && why.kind == ERR_UNAVAILABLE;
        }
        buf_free(&m.text);
        free(contact);
    }
    notice_rec_list_free(list, n);
    notice_conf_free(&c);
    return rc == 0 ? sent : -1;
}

int svc_notice_tick(struct svc *s, struct err *e)
{
    struct tenant_rec **list = NULL;
    int64_t now = time_now();
    size_t n = 0;
    int total = 0, made;
    struct err te;

    if (svc_tenants(s, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        /* One node decides and mails a tenant's notices at a time. */
        if (strcmp(list[i]->status, "active") == 0 &&
            svc_lease(s, list[i]->name, "notice", "scan", 120)) {
            if ((made = notice_scan(s, list[i]->name, now, &te)) < 0)
                log_warn("tenant %s: expiry notices: %s", list[i]->name, te.msg);
            else
                total += made;
            if (s->mail.url != NULL && notice_mail(s, list[i]->name, now, &te) < 0)
                log_warn("tenant %s: expiry notice mail: %s", list[i]->name, te.msg);
        }
        tenant_rec_free(list[i]);
    }
    free(list);
    return total;
}

/* ---- settings ---------------------------------------------------------------- */

#define NOTICE_RECIPIENTS_MAX 16

static json_t *notice_conf_json(const struct notice_conf *c, int64_t updated)
{
    json_t *days = json_array();

    for (int i = c->n - 1; i >= 0; i--) /* as people write them: the farthest first */
        json_array_append_new(days, json_integer(c->days[i]));
    return json_pack("{s:b, s:o, s:O, s:I}", "enabled", c->enabled, "thresholds", days,
                     "recipients", c->recipients, "updated", (json_int_t)updated);
}

int svc_notice_settings_get(struct svc *s, const char *tenant, json_t **out, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct notice_settings_rec *r = NULL;
    struct notice_conf c;
    int64_t updated = 0;

    if (tx == NULL)
        return -1;
    if (notice_conf_load(tx, tenant, &c, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    if (store_notice_settings_get(tx, tenant, &r, e) == 0)
        updated = r->updated;
    notice_settings_rec_free(r);
    store_rollback(tx);
    *out = notice_conf_json(&c, updated);
    notice_conf_free(&c);
    return 0;
}

/* The recipients of a request: an array of at most NOTICE_RECIPIENTS_MAX valid addresses. */
static int recipients_check(const json_t *arr, struct err *e)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) > NOTICE_RECIPIENTS_MAX)
        return err_set(e, ERR_INVALID, "recipients: an array of at most %d e-mail addresses",
                       NOTICE_RECIPIENTS_MAX);
    json_array_foreach(arr, i, v) if (!json_is_string(v) ||
                                      !mail_address_valid(json_string_value(
                                          v))) return err_set(e, ERR_INVALID,
                                                              "recipients: item %zu is not an "
                                                              "e-mail address (local@domain)",
                                                              i + 1);
    return 0;
}

int svc_notice_settings_put(struct svc *s, const struct actor *a, const char *tenant,
                            const json_t *body, json_t **out, struct err *e)
{
    static const char *const known[] = {"enabled", "thresholds", "recipients", NULL};
    struct notice_conf c = {.enabled = 1, .n = (int)ARRAY_LEN(default_days)};
    struct notice_settings_rec r = {.updated = time_now()};
    const json_t *days = json_object_get(body, "thresholds");
    json_t *rcpt = json_object_get(body, "recipients"), *saved, *days_json;
    struct store_tx *tx;
    const char *key;
    json_t *v;
    int rc = -1;

    json_object_foreach((json_t *)body, key, v)
    {
        int ok = 0;
        for (size_t i = 0; known[i] != NULL; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok)
            return err_set(e, ERR_INVALID, "%s: unknown member (enabled, thresholds, recipients)",
                           key);
    }
    memcpy(c.days, default_days, sizeof(default_days));
    if (json_field_bool(body, "enabled", &c.enabled, e) != 0 ||
        (days != NULL && svc_notice_thresholds_parse(days, c.days, &c.n, e) != 0) ||
        (rcpt != NULL && recipients_check(rcpt, e) != 0))
        return -1;
    c.recipients = rcpt != NULL ? json_incref(rcpt) : json_array();
    saved = notice_conf_json(&c, r.updated);
    days_json = json_object_get(saved, "thresholds");
    r.enabled = c.enabled;
    r.thresholds = json_dumps(days_json, JSON_COMPACT);
    r.recipients = json_dumps(c.recipients, JSON_COMPACT);
    if ((tx = store_begin(s->store, e)) != NULL &&
        store_notice_settings_put(tx, tenant, &r, e) == 0) {
        char *detail = json_dumps(saved, JSON_COMPACT | JSON_SORT_KEYS);
        if (svc_audit_ok(tx, tenant, a, "notice.settings", tenant, detail, e) == 0)
            rc = store_commit(tx, e);
        free(detail);
    }
    if (rc != 0)
        store_rollback(tx);
    free(r.thresholds);
    free(r.recipients);
    notice_conf_free(&c);
    if (rc == 0)
        *out = saved;
    else
        json_decref(saved);
    return rc;
}

int svc_notice_list(struct svc *s, const char *tenant, const char *state, int limit, int offset,
                    struct notice_rec ***out, size_t *n, struct err *e)
{
    static const char *const states[] = {"pending", "sent", "failed", "unaddressed", NULL};
    struct store_tx *tx;
    int rc, known = state == NULL;

    for (size_t i = 0; !known && states[i] != NULL; i++)
        known = strcmp(state, states[i]) == 0;
    if (!known)
        return err_set(e, ERR_INVALID, "state: pending, sent, failed or unaddressed");
    if ((tx = store_begin_read(s->store, e)) == NULL)
        return -1;
    rc = store_notice_list(tx, tenant, state, limit, offset, out, n, e);
    store_rollback(tx);
    return rc;
}
