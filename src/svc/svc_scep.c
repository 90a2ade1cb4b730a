/*
 * svc_scep.c — SCEP (RFC 8894) endpoints' state for the transport in
 * src/api/api_scep.c: an endpoint is an enrollment endpoint of protocol
 * "scep" (svc_enroll.c) and has an RA: an RSA key in the tenant's key store
 * (purpose "ra": the signer opens envelopes and signs replies with it, and
 * nothing else) and its certificate from the endpoint's CA.  Both are filed
 * in the endpoint's settings ("ra": key_id and cert_serial) and renewed when
 * the certificate is revoked, gone, issued by another CA than the endpoint's
 * or in the last third of its life, which is checked at every GetCACert.
 */
#include "svc/svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#include <openssl/x509.h>

static const struct actor scep_actor = {.id = "scep"};

/* The SCEP endpoint `name` of tenant, active, and its settings; ERR_NOT_FOUND if none. */
static int endpoint_load(struct svc *s, const char *tenant, const char *name,
                         struct enroll_endpoint_rec **ep, struct svc_enroll_settings *st,
                         struct err *e)
{
    json_t *o;
    int rc;

    if (svc_enroll_endpoint_get(s, tenant, name, ep, e) != 0)
        return err_set(e, ERR_NOT_FOUND, "no such SCEP endpoint");
    if (strcmp((*ep)->protocol, "scep") != 0 || strcmp((*ep)->status, "active") != 0) {
        rc = strcmp((*ep)->protocol, "scep") != 0
                 ? err_set(e, ERR_NOT_FOUND, "no such SCEP endpoint")
                 : err_set(e, ERR_FORBIDDEN, "SCEP endpoint %s is disabled", name);
        enroll_endpoint_rec_free(*ep);
        *ep = NULL;
        return rc;
    }
    o = json_loads((*ep)->settings, 0, NULL);
    rc = svc_enroll_settings_parse(o, (*ep)->ca, st, e);
    json_decref(o);
    if (rc != 0) {
        enroll_endpoint_rec_free(*ep);
        *ep = NULL;
    }
    return rc;
}

int svc_scep_endpoint(struct svc *s, const char *tenant, const char *endpoint, int *legacy,
                      struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct svc_enroll_settings st;

    if (endpoint_load(s, tenant, endpoint, &ep, &st, e) != 0)
        return -1;
    *legacy = st.legacy;
    svc_enroll_settings_clear(&st);
    enroll_endpoint_rec_free(ep);
    return 0;
}

/* "<endpoint> SCEP RA" as a subject's CN (at most 64 characters). */
static X509_NAME *ra_subject(const char *endpoint)
{
    X509_NAME *name = X509_NAME_new();
    char cn[65];

    snprintf(cn, sizeof(cn), "%s SCEP RA", endpoint);
    if (name != NULL && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                   (const unsigned char *)cn, -1, -1, 0) != 1) {
        X509_NAME_free(name);
        name = NULL;
    }
    return name;
}

/*
 * Files key_id and serial as the RA of endpoint ep in its row, unless the row's
 * RA is no longer `seen` (another node renewed it meanwhile: *lost set, 0).
 */
static int ra_file(struct svc *s, const struct enroll_endpoint_rec *ep, const char *seen,
                   const char *key_id, const char *serial, int *lost, struct err *e)
{
    struct enroll_endpoint_rec *cur = NULL;
    struct store_tx *tx = store_begin(s->store, e);
    json_t *o = NULL, *old_ra, *d = NULL;
    const char *now;
    char *detail = NULL;
    int rc = -1;

    if (tx == NULL || store_enroll_endpoint_get(tx, ep->tenant, ep->name, &cur, e) != 0 ||
        (o = json_loads(cur->settings, 0, NULL)) == NULL)
        goto out;
    old_ra = json_object_get(o, "ra");
    now = json_string_value(json_object_get(old_ra, "key_id"));
    if ((now == NULL) != (seen == NULL) || (now != NULL && strcmp(now, seen) != 0)) {
        *lost = 1;
        rc = 0;
        goto out;
    }
    json_object_set_new(o, "ra", json_pack("{s:s, s:s}", "key_id", key_id, "cert_serial", serial));
    free(cur->settings);
    cur->settings = json_dumps(o, JSON_COMPACT);
    cur->updated = time_now();
    d = json_pack("{s:s, s:s, s:s}", "key_id", key_id, "cert_serial", serial, "ca", cur->ca);
    detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    if (store_enroll_endpoint_update(tx, ep->tenant, cur, e) != 0 ||
        svc_audit_ok(tx, ep->tenant, &scep_actor, "scep.ra", ep->name, detail, e) != 0)
        goto out;
    rc = store_commit(tx, e);
    tx = NULL;
out:
    store_rollback(tx);
    enroll_endpoint_rec_free(cur);
    json_decref(o);
    json_decref(d);
    free(detail);
    return rc;
}

/* Makes a new RA key and certificate for ep and files them (the old key, seen, deleted). */
static int ra_make(struct svc *s, const struct enroll_endpoint_rec *ep, const char *seen,
                   struct err *e)
{
    struct issue_params p = {.ca = ep->ca, .profile = SCEP_RA_PROFILE, .internal = 1};
    struct cert_rec *issued = NULL;
    X509_NAME *subject = ra_subject(ep->name);
    EVP_PKEY *pub = NULL;
    char *key_id = NULL;
    struct err ignored;
    int rc = -1, lost = 0;

    if (subject == NULL)
        return err_ossl(e, ERR_INTERNAL, "scep: cannot make a subject");
    /* What would refuse the certificate is checked before a key is made: a request from the
       network must not buy an RSA key generation it cannot use (a CA disabled, expired...). */
    if (svc_cert_issue_check(s, ep->tenant, &p, NULL, 0, e) != 0) {
        X509_NAME_free(subject);
        return -1;
    }
    if (signer_keygen_for(s->signer, ep->tenant, KEY_RSA_2048, KEY_PURPOSE_RA, &key_id, &pub, e) !=
            0 ||
        svc_issue_for_key(s, &scep_actor, ep->tenant, &p, subject, pub, "scep.ra.issue", &issued,
                          NULL, e) != 0 ||
        ra_file(s, ep, seen, key_id, issued->serial, &lost, e) != 0)
        goto out;
    rc = 0;
    if (!lost && seen != NULL && signer_delete(s->signer, ep->tenant, seen, &ignored) != 0)
        log_warn("tenant %s: SCEP endpoint %s: old RA key %s left behind: %s", ep->tenant, ep->name,
                 seen, ignored.msg);
out:
    if ((rc != 0 || lost) && key_id != NULL &&
        signer_delete(s->signer, ep->tenant, key_id, &ignored) != 0)
        log_warn("tenant %s: SCEP endpoint %s: unused RA key %s left behind: %s", ep->tenant,
                 ep->name, key_id, ignored.msg);
    free(key_id);
    cert_rec_free(issued);
    EVP_PKEY_free(pub);
    X509_NAME_free(subject);
    return rc;
}

/* The RA certificate serial of ep if good, from ep's CA, with more than a third of its life left.
 */
static struct cert_rec *ra_fresh(struct svc *s, const struct enroll_endpoint_rec *ep,
                                 const char *serial, int *unknown)
{
    struct store_tx *tx;
    struct cert_rec *c = NULL;
    struct err e;

    *unknown = 0;
    if (serial == NULL)
        return NULL;
    if ((tx = store_begin_read(s->store, &e)) == NULL) {
        *unknown = 1; /* cannot tell now */
        return NULL;
    }
    if (store_cert_get(tx, ep->tenant, serial, &c, &e) != 0)
        *unknown = e.kind != ERR_NOT_FOUND;
    store_rollback(tx);
    if (c != NULL && (strcmp(c->status, "good") != 0 || strcmp(c->ca, ep->ca) != 0 ||
                      c->not_after - time_now() <= (c->not_after - c->not_before) / 3)) {
        cert_rec_free(c);
        c = NULL;
    }
    return c;
}

/* The good RA certificate of endpoint (made if needed): *out caller frees. */
static int ra_get(struct svc *s, const char *tenant, const char *endpoint, struct cert_rec **out,
                  struct enroll_endpoint_rec **epp, struct err *e)
{
    for (int round = 0; round < 2; round++) {
        struct enroll_endpoint_rec *ep = NULL;
        struct svc_enroll_settings st;
        struct cert_rec *c;
        int unknown = 0, rc;

        if (endpoint_load(s, tenant, endpoint, &ep, &st, e) != 0)
            return -1;
        if ((c = ra_fresh(s, ep, st.ra_cert_serial, &unknown)) != NULL) {
            svc_enroll_settings_clear(&st);
            *out = c;
            if (epp != NULL)
                *epp = ep;
            else
                enroll_endpoint_rec_free(ep);
            return 0;
        }
        rc = unknown      ? err_set(e, ERR_UNAVAILABLE, "scep: the store cannot be read")
             : round == 0 ? ra_make(s, ep, st.ra_key_id, e)
                          : err_set(e, ERR_INTERNAL, "scep: the RA certificate made is not good");
        svc_enroll_settings_clear(&st);
        enroll_endpoint_rec_free(ep);
        if (rc != 0)
            return -1;
    }
    return err_set(e, ERR_INTERNAL, "scep: no RA certificate");
}

int svc_scep_ra_ensure(struct svc *s, const char *tenant, const char *endpoint, struct err *e)
{
    struct cert_rec *c = NULL;
    int rc = ra_get(s, tenant, endpoint, &c, NULL, e);

    cert_rec_free(c);
    return rc;
}

int svc_scep_cacert(struct svc *s, const char *tenant, const char *endpoint, unsigned char **ra,
                    size_t *ra_len, unsigned char **cas, size_t *cas_len, struct err *e)
{
    struct enroll_endpoint_rec *ep = NULL;
    struct cert_rec *c = NULL;
    struct ca_rec *ca = NULL;
    struct store_tx *tx;
    int rc;

    if (ra_get(s, tenant, endpoint, &c, &ep, e) != 0)
        return -1;
    if ((tx = store_begin_read(s->store, e)) == NULL) {
        rc = -1;
        goto out;
    }
    rc = store_ca_get(tx, tenant, ep->ca, &ca, e);
    store_rollback(tx);
    if (rc != 0 || ca->cert_der == NULL) {
        rc = err_set(e, ERR_UNAVAILABLE, "the endpoint's CA has no certificate");
        goto out;
    }
    *cas_len = ca->cert_len + ca->chain_len;
    *cas = xmalloc(*cas_len);
    memcpy(*cas, ca->cert_der, ca->cert_len);
    if (ca->chain_der != NULL)
        memcpy(*cas + ca->cert_len, ca->chain_der, ca->chain_len);
    *ra = c->der;
    *ra_len = c->der_len;
    c->der = NULL;
out:
    ca_rec_free(ca);
    cert_rec_free(c);
    enroll_endpoint_rec_free(ep);
    return rc;
}
