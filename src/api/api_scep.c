/*
 * api_scep.c — the HTTP transport of SCEP (RFC 8894 §4.1):
 * /scep/<tenant>/<endpoint>?operation=... by GET and POST, on the public and
 * the API listener (docs/api.md "SCEP").  The messages are the SCEP module's
 * (src/scep), the endpoint's state svc's (svc_scep.c); their answers become
 * HTTP here.  Nothing else happens here.
 *
 * GetCACaps answers text/plain, GetCACert application/x-x509-ca-ra-cert (the
 * CA and RA certificates, RFC 8894 §4.2.1.2).  A PKIOperation's message is
 * the POST body (application/x-pki-message) or, by GET, the base64 `message` * argument; it is
 * opened (the signer unwraps its content key), answered by svc (svc_scep_request) and the CertRep
 * signed by the RA key, answered application/x-pki-message.  Errors where no CertRep can be formed
 * are HTTP errors with a text reason: 400 bad input (not a pkiMessage), 403 a disabled endpoint,
 * 404 no such endpoint, 503 the signer or the store away.
 */
#include "api/api_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "scep/scep.h"

static void respond_text(struct http_response *resp, int status, const char *text)
{
    char *line = xasprintf("%s\n", text);

    http_respond(resp, status, "text/plain; charset=utf-8", line, strlen(line));
    free(line);
}

static void respond_err(struct http_request *req, struct http_response *resp, const char *tenant,
                        const char *endpoint, const struct err *e)
{
    int status = e->kind == ERR_INVALID || e->kind == ERR_POLICY ? 400 : http_status_of(e->kind);

    if (status >= 500 && e->kind != ERR_LIMIT && e->kind != ERR_UNAVAILABLE)
        log_error("req %s scep %s/%s: %s", req->request_id, tenant, endpoint, e->msg);
    respond_text(resp, status, e->kind == ERR_NONE ? "internal error" : e->msg);
    if (status == 503)
        http_add_header(resp, "Retry-After", HTTP_RETRY_AFTER_UNAVAILABLE);
}

/* The tenant's gate, as for its REST API (a deleted tenant, a request over its rate). */
static int admit(struct api *api, struct http_request *req, const char *tenant, struct err *e)
{
    long refused = 0;

    if (svc_tenant_admit(api->svc, tenant, &refused, e) == 0)
        return 0;
    if (e->kind == ERR_LIMIT && refused > 0) {
        struct actor a = {.id = "scep"};
        struct err ae;
        err_set(&ae, ERR_LIMIT, "%ld SCEP request(s) refused over the rate limit: %s", refused,
                e->msg);
        svc_audit_refusal(api->svc, tenant, &a, "ratelimit.refused", req->path, &ae);
    }
    if (e->kind != ERR_LIMIT)
        err_set(e, ERR_NOT_FOUND, "no such SCEP endpoint");
    return -1;
}

static int getcacaps(struct api *api, const char *tenant, const char *endpoint,
                     struct http_response *resp, struct err *e)
{
    int legacy = 0;
    char *caps;

    if (svc_scep_endpoint(api->svc, tenant, endpoint, &legacy, e) != 0)
        return -1;
    caps = scep_caps(legacy);
    http_respond(resp, 200, "text/plain", caps, strlen(caps));
    free(caps);
    return 0;
}

static int getcacert(struct api *api, const char *tenant, const char *endpoint,
                     struct http_response *resp, struct err *e)
{
    unsigned char *ra = NULL, *cas = NULL, *der = NULL;
    size_t ra_len = 0, cas_len = 0, len = 0;
    int rc = -1;

    if (svc_scep_cacert(api->svc, tenant, endpoint, &ra, &ra_len, &cas, &cas_len, e) == 0 &&
        scep_ca_ra_certs(ra, ra_len, cas, cas_len, &der, &len, e) == 0) {
        http_respond(resp, 200, "application/x-x509-ca-ra-cert", der, len);
        rc = 0;
    }
    free(ra);
    free(cas);
    free(der);
    return rc;
}

/*
 * The RA certificates parsed, by their DER: parsing one decodes its RSA key
 * through OpenSSL 3.0's provider decoders (~140 µs, under locks every thread
 * shares), for a certificate that changes once in months.  A new reference;
 * NULL if der does not parse.
 */
#define RA_CACHE 16
static struct {
    unsigned char *der;
    size_t len;
    X509 *x;
} ra_cache[RA_CACHE];
static int ra_next;
static pthread_mutex_t ra_lock = PTHREAD_MUTEX_INITIALIZER;

static X509 *ra_parsed(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = NULL;

    pthread_mutex_lock(&ra_lock);
    for (int i = 0; i < RA_CACHE && x == NULL; i++)
        if (ra_cache[i].x != NULL && ra_cache[i].len == len &&
            memcmp(ra_cache[i].der, der, len) == 0) {
            x = ra_cache[i].x;
            X509_up_ref(x);
        }
    pthread_mutex_unlock(&ra_lock);
    if (x != NULL || (x = d2i_X509(NULL, &p, (long)len)) == NULL)
        return x;
    pthread_mutex_lock(&ra_lock);
    X509_free(ra_cache[ra_next].x);
    free(ra_cache[ra_next].der);
    ra_cache[ra_next].der = xmalloc(len);
    memcpy(ra_cache[ra_next].der, der, len);
    ra_cache[ra_next].len = len;
    X509_up_ref(x);
    ra_cache[ra_next].x = x;
    ra_next = (ra_next + 1) % RA_CACHE;
    pthread_mutex_unlock(&ra_lock);
    return x;
}

/* What the device asked for, from its opened message, for svc. */
static int request_of(const struct scep_message *m, const unsigned char *content, size_t len,
                      struct scep_ref *ref, struct svc_scep_request *q, struct err *e)
{
    memset(q, 0, sizeof(*q));
    q->type = (int)m->type;
    q->txid = m->txid;
    q->signer = m->signer_cert;
    if (m->type == SCEP_MSG_PKCSREQ || m->type == SCEP_MSG_RENEWALREQ) {
        q->csr = content;
        q->csr_len = len;
        return 0;
    }
    if (scep_ref_parse(m->type, content, len, ref, e) != 0)
        return -1;
    q->issuer = ref->issuer;
    q->serial = ref->serial;
    return 0;
}

/*
 * Answers the pkiMessage m with a CertRep (RFC 8894 §3.3.2): its envelope
 * opened by the signer's RA key, what it asks answered by svc, the answer
 * signed by the RA key.  A message that does not open, or asks for nothing
 * svc can read, is a CertRep FAILURE (badAlg, badMessageCheck, badRequest).
 * -1 with e where no CertRep can be made (the signer or the store down).
 */
static int pkioperation_answer(struct api *api, const char *tenant, const char *endpoint,
                               const struct scep_message *m, struct svc_scep_ra *ra, X509 *ra_cert,
                               unsigned char **out, size_t *len, struct err *e)
{
    struct scep_reply rep = {.txid = m->txid,
                             .recipient_nonce = m->sender_nonce,
                             .ra = ra_cert,
                             .digest_nid = m->digest_nid,
                             .recipient = m->signer_cert};
    struct svc_scep_answer a = {0};
    struct svc_scep_request q;
    struct scep_ref ref = {0};
    unsigned char *content = NULL;
    size_t content_len = 0;
    enum scep_fail fail = SCEP_FAIL_BADMESSAGECHECK;
    int rc = -1;

    if (scep_envelope_open(m->envelope, m->envelope_len, ra_cert, ra->legacy, svc_scep_unwrap, ra,
                           &content, &content_len, &rep.cipher_nid, &fail, e) != 0) {
        if (e->kind == ERR_UNAVAILABLE || e->kind == ERR_INTERNAL)
            return -1;
        a.status = SVC_SCEP_FAILURE;
        a.fail = (int)fail;
    } else if (request_of(m, content, content_len, &ref, &q, e) != 0) {
        a.status = SVC_SCEP_FAILURE;
        a.fail = SVC_SCEP_BADREQUEST;
    } else {
        if (svc_scep_request(api->svc, tenant, endpoint, &q, &a, e) != 0)
            goto out;
    }
    rep.status = (enum scep_status)a.status;
    rep.fail = (enum scep_fail)a.fail;
    rep.certs = a.certs;
    rep.certs_len = a.certs_len;
    rep.crl = a.crl;
    rep.crl_len = a.crl_len;
    rc = scep_certrep(&rep, svc_scep_sign, ra, out, len, e);
out:
    if (content != NULL)
        secure_zero(content, content_len);
    free(content);
    scep_ref_clear(&ref);
    svc_scep_answer_clear(&a);
    return rc;
}

/*
 * PKIOperation: the message (POST body, or GET's base64 `message`), its outer
 * layer checked (a message that is no pkiMessage is 400: no CertRep can be
 * addressed to it), then answered with a CertRep (application/x-pki-message).
 */
static int pkioperation(struct api *api, struct http_request *req, const char *tenant,
                        const char *endpoint, struct http_response *resp, struct err *e)
{
    const char *message = http_query(req, "message");
    struct scep_message m = {0};
    struct svc_scep_ra ra = {0};
    unsigned char *der = NULL, *out = NULL;
    size_t len = 0, out_len = 0;
    X509 *ra_cert = NULL;
    int rc = -1;

    if (svc_scep_ra_get(api->svc, tenant, endpoint, &ra, e) != 0)
        return -1;
    if ((ra_cert = ra_parsed(ra.cert, ra.cert_len)) == NULL) {
        err_set(e, ERR_INTERNAL, "PKIOperation: the RA certificate does not parse");
        goto out;
    }
    if (strcmp(req->method, "POST") == 0) {
        if (req->body_len == 0 || req->body_len > SCEP_MESSAGE_MAX) {
            err_set(e, ERR_INVALID, "PKIOperation: a pkiMessage of 1 to %d bytes",
                    SCEP_MESSAGE_MAX);
            goto out;
        }
        der = xmalloc(req->body_len);
        memcpy(der, req->body, req->body_len);
        len = req->body_len;
    } else if (message == NULL) {
        err_set(e, ERR_INVALID, "PKIOperation: the message argument is missing");
        goto out;
    } else if (scep_message_decode(message, &der, &len, e) != 0) {
        goto out;
    }
    if (scep_message_parse(der, len, ra.legacy, &m, e) == 0 &&
        pkioperation_answer(api, tenant, endpoint, &m, &ra, ra_cert, &out, &out_len, e) == 0) {
        http_respond(resp, 200, "application/x-pki-message", out, out_len);
        rc = 0;
    }
out:
    X509_free(ra_cert);
    scep_message_clear(&m);
    svc_scep_ra_clear(&ra);
    free(der);
    free(out);
    return rc;
}

void api_scep(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *tenant = http_param(req, "tenant"), *endpoint = http_param(req, "endpoint");
    enum scep_op op = scep_op_of(http_query(req, "operation"));
    struct err e;
    int rc = -1;

    err_clear(&e);
    if (op == SCEP_OP_NONE) {
        respond_text(resp, 400,
                     "operation: GetCACaps, GetCACert or PKIOperation (RFC 8894 section 4)");
        return;
    }
    if (strcmp(req->method, "POST") == 0 && op != SCEP_OP_PKIOPERATION) {
        respond_text(resp, 405, "only PKIOperation is sent by POST");
        return;
    }
    if (admit(api, req, tenant, &e) == 0) {
        switch (op) {
        case SCEP_OP_GETCACAPS:
            rc = getcacaps(api, tenant, endpoint, resp, &e);
            break;
        case SCEP_OP_GETCACERT:
            rc = getcacert(api, tenant, endpoint, resp, &e);
            break;
        default:
            rc = pkioperation(api, req, tenant, endpoint, resp, &e);
            break;
        }
    }
    if (rc != 0)
        respond_err(req, resp, tenant, endpoint, &e);
}
