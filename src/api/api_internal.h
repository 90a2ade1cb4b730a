/* api_internal.h — what the api_*.c files share. */
#ifndef VOUCH_API_INTERNAL_H
#define VOUCH_API_INTERNAL_H

#include <jansson.h>

#include "api/api.h"

/* Who a request is: a principal, the credential it used, its roles in the route's tenant. */
struct principal {
    char *tenant;   /* the principal's own tenant */
    char *id;       /* principal id */
    char *token_id; /* the credential: token id */
    char **roles;   /* bound in the tenant the route is about */
    size_t nroles;
    char *creators; /* who else could hold the credential (svc_identity.creators) */
};

/* 2 if p's roles grant permission wholly, 1 for its own objects only, 0 not at all. */
int api_principal_grants(const struct principal *p, const char *permission);

/* Route handlers (api_*.c). */
void api_acme(void *app, struct http_request *req, struct http_response *resp);
void api_healthz(void *app, struct http_request *req, struct http_response *resp);
void api_readyz(void *app, struct http_request *req, struct http_response *resp);
void api_public_readyz(void *app, struct http_request *req, struct http_response *resp);
void api_me(void *app, struct http_request *req, struct http_response *resp);
void api_console_redirect(void *app, struct http_request *req, struct http_response *resp);
void api_console_index(void *app, struct http_request *req, struct http_response *resp);
void api_console_file(void *app, struct http_request *req, struct http_response *resp);
void api_public_crl(void *app, struct http_request *req, struct http_response *resp);
void api_public_crl_scope(void *app, struct http_request *req, struct http_response *resp);
void api_public_ca(void *app, struct http_request *req, struct http_response *resp);
void api_ocsp_post(void *app, struct http_request *req, struct http_response *resp);
void api_ocsp_get(void *app, struct http_request *req, struct http_response *resp);
void api_tenant_create(void *app, struct http_request *req, struct http_response *resp);
void api_tenant_list(void *app, struct http_request *req, struct http_response *resp);
void api_tenant_show(void *app, struct http_request *req, struct http_response *resp);
void api_tenant_suspend(void *app, struct http_request *req, struct http_response *resp);
void api_tenant_reactivate(void *app, struct http_request *req, struct http_response *resp);
void api_tenant_delete(void *app, struct http_request *req, struct http_response *resp);
void api_tenant_limits(void *app, struct http_request *req, struct http_response *resp);
void api_system_audit_verify(void *app, struct http_request *req, struct http_response *resp);
void api_system_audit_export(void *app, struct http_request *req, struct http_response *resp);
void api_tsa_update(void *app, struct http_request *req, struct http_response *resp);
void api_request_list(void *app, struct http_request *req, struct http_response *resp);
void api_request_show(void *app, struct http_request *req, struct http_response *resp);
void api_request_approve(void *app, struct http_request *req, struct http_response *resp);
void api_request_reject(void *app, struct http_request *req, struct http_response *resp);
void api_workflow_list(void *app, struct http_request *req, struct http_response *resp);
void api_workflow_show(void *app, struct http_request *req, struct http_response *resp);
void api_workflow_put(void *app, struct http_request *req, struct http_response *resp);
void api_workflow_delete(void *app, struct http_request *req, struct http_response *resp);
void api_webhook_get(void *app, struct http_request *req, struct http_response *resp);
void api_webhook_put(void *app, struct http_request *req, struct http_response *resp);
void api_webhook_delete(void *app, struct http_request *req, struct http_response *resp);
void api_notice_list(void *app, struct http_request *req, struct http_response *resp);
void api_notice_settings_get(void *app, struct http_request *req, struct http_response *resp);
void api_notice_settings_put(void *app, struct http_request *req, struct http_response *resp);

void api_tenant_token(void *app, struct http_request *req, struct http_response *resp);
void api_ca_create(void *app, struct http_request *req, struct http_response *resp);
void api_ca_list(void *app, struct http_request *req, struct http_response *resp);
void api_ca_show(void *app, struct http_request *req, struct http_response *resp);
void api_ca_csr(void *app, struct http_request *req, struct http_response *resp);
void api_ca_import_cert(void *app, struct http_request *req, struct http_response *resp);
void api_ca_disable(void *app, struct http_request *req, struct http_response *resp);
void api_ca_import(void *app, struct http_request *req, struct http_response *resp);
void api_crl_generate(void *app, struct http_request *req, struct http_response *resp);
void api_crl_show(void *app, struct http_request *req, struct http_response *resp);
void api_profile_list(void *app, struct http_request *req, struct http_response *resp);
void api_profile_show(void *app, struct http_request *req, struct http_response *resp);
void api_profile_create(void *app, struct http_request *req, struct http_response *resp);
void api_profile_update(void *app, struct http_request *req, struct http_response *resp);
void api_profile_clone(void *app, struct http_request *req, struct http_response *resp);
void api_cert_issue(void *app, struct http_request *req, struct http_response *resp);
void api_cert_keygen(void *app, struct http_request *req, struct http_response *resp);
void api_cert_search(void *app, struct http_request *req, struct http_response *resp);
void api_cert_expiring(void *app, struct http_request *req, struct http_response *resp);
void api_report(void *app, struct http_request *req, struct http_response *resp);
void api_cert_show(void *app, struct http_request *req, struct http_response *resp);
void api_cert_revoke(void *app, struct http_request *req, struct http_response *resp);
void api_cert_suspend(void *app, struct http_request *req, struct http_response *resp);
void api_cert_reinstate(void *app, struct http_request *req, struct http_response *resp);
void api_cert_renew(void *app, struct http_request *req, struct http_response *resp);
void api_entity_create(void *app, struct http_request *req, struct http_response *resp);
void api_entity_list(void *app, struct http_request *req, struct http_response *resp);
void api_entity_show(void *app, struct http_request *req, struct http_response *resp);
void api_entity_update(void *app, struct http_request *req, struct http_response *resp);
void api_audit_list(void *app, struct http_request *req, struct http_response *resp);
void api_system_audit(void *app, struct http_request *req, struct http_response *resp);
void api_audit_verify(void *app, struct http_request *req, struct http_response *resp);
void api_audit_checkpoint(void *app, struct http_request *req, struct http_response *resp);
void api_audit_checkpoints(void *app, struct http_request *req, struct http_response *resp);
void api_audit_export(void *app, struct http_request *req, struct http_response *resp);
void api_audit_forwarding_put(void *app, struct http_request *req, struct http_response *resp);
void api_audit_forwarding_get(void *app, struct http_request *req, struct http_response *resp);
void api_audit_forwarding_delete(void *app, struct http_request *req, struct http_response *resp);
void api_token_create(void *app, struct http_request *req, struct http_response *resp);
void api_token_list(void *app, struct http_request *req, struct http_response *resp);
/* 1 if a tenant that is not active may still call route (reads, revocation, export). */
int api_route_allowed_while_suspended(const struct http_route *route);
void api_token_rotate(void *app, struct http_request *req, struct http_response *resp);
void api_token_delete(void *app, struct http_request *req, struct http_response *resp);
void api_tsa_create(void *app, struct http_request *req, struct http_response *resp);
void api_tsa_list(void *app, struct http_request *req, struct http_response *resp);
void api_tsa_show(void *app, struct http_request *req, struct http_response *resp);
void api_tsa_token_search(void *app, struct http_request *req, struct http_response *resp);
void api_tsa_token_show(void *app, struct http_request *req, struct http_response *resp);
void api_public_tsa(void *app, struct http_request *req, struct http_response *resp);
void api_key_list(void *app, struct http_request *req, struct http_response *resp);
void api_offline_request(void *app, struct http_request *req, struct http_response *resp);
void api_offline_import(void *app, struct http_request *req, struct http_response *resp);
void api_key_generate(void *app, struct http_request *req, struct http_response *resp);
void api_key_delete(void *app, struct http_request *req, struct http_response *resp);
void api_principal_create(void *app, struct http_request *req, struct http_response *resp);
void api_principal_list(void *app, struct http_request *req, struct http_response *resp);
void api_principal_show(void *app, struct http_request *req, struct http_response *resp);
void api_principal_disable(void *app, struct http_request *req, struct http_response *resp);
void api_principal_enable(void *app, struct http_request *req, struct http_response *resp);
void api_role_list(void *app, struct http_request *req, struct http_response *resp);
void api_role_bind(void *app, struct http_request *req, struct http_response *resp);
void api_role_unbind(void *app, struct http_request *req, struct http_response *resp);
void api_client_ca_create(void *app, struct http_request *req, struct http_response *resp);
void api_client_ca_list(void *app, struct http_request *req, struct http_response *resp);
void api_client_ca_delete(void *app, struct http_request *req, struct http_response *resp);
void api_acme_endpoint_create(void *app, struct http_request *req, struct http_response *resp);
void api_acme_endpoint_list(void *app, struct http_request *req, struct http_response *resp);
void api_acme_endpoint_show(void *app, struct http_request *req, struct http_response *resp);
void api_acme_endpoint_update(void *app, struct http_request *req, struct http_response *resp);
void api_acme_eab_create(void *app, struct http_request *req, struct http_response *resp);
void api_acme_eab_list(void *app, struct http_request *req, struct http_response *resp);
void api_acme_eab_revoke(void *app, struct http_request *req, struct http_response *resp);
void api_est(void *app, struct http_request *req, struct http_response *resp);
void api_enroll_endpoint_create(void *app, struct http_request *req, struct http_response *resp);
void api_enroll_endpoint_list(void *app, struct http_request *req, struct http_response *resp);
void api_enroll_endpoint_show(void *app, struct http_request *req, struct http_response *resp);
void api_enroll_endpoint_update(void *app, struct http_request *req, struct http_response *resp);
void api_enroll_credential_create(void *app, struct http_request *req, struct http_response *resp);
void api_enroll_credential_list(void *app, struct http_request *req, struct http_response *resp);
void api_enroll_credential_revoke(void *app, struct http_request *req, struct http_response *resp);
void api_cmp(void *app, struct http_request *req, struct http_response *resp);
void api_scep(void *app, struct http_request *req, struct http_response *resp);
void api_cmp_endpoint_create(void *app, struct http_request *req, struct http_response *resp);
void api_cmp_endpoint_list(void *app, struct http_request *req, struct http_response *resp);
void api_cmp_endpoint_show(void *app, struct http_request *req, struct http_response *resp);
void api_cmp_endpoint_update(void *app, struct http_request *req, struct http_response *resp);
void api_cmp_secret_create(void *app, struct http_request *req, struct http_response *resp);
void api_cmp_secret_list(void *app, struct http_request *req, struct http_response *resp);
void api_cmp_secret_revoke(void *app, struct http_request *req, struct http_response *resp);
void api_cert_renewal_window_get(void *app, struct http_request *req, struct http_response *resp);
void api_cert_renewal_window_put(void *app, struct http_request *req, struct http_response *resp);

/* The tenant of the path ({tenant}), NULL if none. */
const char *api_tenant(const struct http_request *req);
/* The actor of the request (the principal's token id). */
struct actor api_actor(const struct http_request *req);

/*
 * Parses the body as a JSON object.  NULL (and a 400 response, audited as
 * `action`) if it is not one.
 */
json_t *api_body(struct api *api, struct http_request *req, struct http_response *resp,
                 const char *action);

/*
 * Reads an optional string / integer / boolean field; -1 with e naming the
 * field if present with the wrong type, or absent when required.
 */
int api_str(json_t *o, const char *key, int required, const char **out, struct err *e);
int api_int(json_t *o, const char *key, long long min, long long max, long long *out,
            struct err *e);
int api_bool(json_t *o, const char *key, int *out, struct err *e);
/* A query argument as an integer in [min, max] (left unchanged if absent); -1 with e if bad. */
int api_query_int(struct http_request *req, const char *name, int min, int max, int *out,
                  struct err *e);

/* Answers with e and records the refusal in the tenant's audit chain. */
void api_fail(struct api *api, struct http_request *req, struct http_response *resp,
              const char *action, const char *object, const struct err *e);
/* Answers with e (logged when it is a fault of ours) where svc recorded the refusal already. */
void api_refused(struct http_request *req, struct http_response *resp, const char *action,
                 const struct err *e);
/*
 * Answers what svc_submit did: `status` with the certificate or CA (der:
 * the certificate as base64 DER; a PKCS#12 made with it added as "pkcs12"),
 * 202 with a pending request; Idempotent-Replayed when a key replayed it.
 */
void api_respond_outcome(struct api *api, struct http_response *resp, const struct svc_outcome *o,
                         int status, int der);
/*
 * A request as the API shows it: svc_request_json with its result as the
 * call would have answered, {"status": 201, "body": {...}} (or the error).
 */
json_t *api_request_json(const struct request_rec *r);

/* JSON forms of records (new references). */
json_t *api_ca_json(struct api *api, const struct ca_rec *r);
json_t *api_cert_json(struct api *api, const struct cert_rec *r, int der);
json_t *api_entity_json(const struct entity_rec *r);
/*
 * Answers a CRL as JSON: its scope, number and times, and "crl" its PEM.  The
 * JSON text is written directly (jansson would take seconds over the 60 MB
 * PEM of a CRL with a million entries).
 */
void api_respond_crl(struct http_response *resp, int status, const struct crl_rec *r);
/* A token record; secret (shown once) added when not NULL. */
json_t *api_token_json(const struct token_rec *t, const char *secret);
json_t *api_time(int64_t t); /* RFC 3339 string, or null for 0 */
/* PEM text of DER data with the given label ("CERTIFICATE"); caller frees. */
char *api_pem(const char *label, const unsigned char *der, size_t len);
/* PEM or DER (auto-detected) certificates → stack; NULL with e set. */
STACK_OF(X509) * api_parse_certs(const char *text, const char *field, struct err *e);

#endif
