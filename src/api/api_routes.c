/*
 * api_routes.c — the route tables: every route with its method, path,
 * request content type, permission and body limit (checked by the HTTP
 * layer before the handler runs; see http.h).
 */
#include "api/api_internal.h"

#include <string.h>

#define JSON  "application/json"
#define KB    1024
#define SMALL (64 * KB)
#define LARGE (1024 * KB)
#define T     "/api/v1/t/{tenant}"

#define BUNDLE_MAX (64 * 1024 * KB)

#define OCSP_REQ "application/ocsp-request"
#define OCSP_MAX (16 * KB)

#define CMP      "/.well-known/cmp/p/{label}"
#define PKIXCMP  "application/pkixcmp"
#define CMP_BODY (64 * KB) /* CMP_MSG_MAX */

/* SCEP (RFC 8894 §4.1): ?operation=...; a PKIOperation by POST, or by GET with ?message= */
#define SCEP      "/scep/{tenant}/{endpoint}"
#define SCEP_BODY (64 * KB) /* SCEP_MESSAGE_MAX */

#define ACME      "/acme/{tenant}/{endpoint}"
#define JOSE      "application/jose+json"
#define ACME_BODY (64 * KB) /* ACME_JWS_BODY_MAX */

/* EST (RFC 7030): /.well-known/est/<tenant>~<endpoint>/<op>, or after a prefix naming both */
#define EST      "/.well-known/est/{label}"
#define EST_T    "/est/{tenant}/{endpoint}/.well-known/est"
#define PKCS10   "application/pkcs10"
#define EST_BODY (64 * KB) /* EST_BODY_MAX */
#define EST_ROUTES(P)                                                                              \
    {"GET", P "/cacerts", NULL, "public", 0, api_est},                                             \
        {"GET", P "/csrattrs", NULL, "public", 0, api_est},                                        \
        {"POST", P "/simpleenroll", PKCS10, "public", EST_BODY, api_est},                          \
        {"POST", P "/simplereenroll", PKCS10, "public", EST_BODY, api_est},                        \
        {"POST", P "/serverkeygen", PKCS10, "public", EST_BODY, api_est},                          \
    {                                                                                              \
        "POST", P "/fullcmc", "application/pkcs7-mime", "public", EST_BODY, api_est                \
    }

static const struct http_route routes[] = {
    {"GET", "/healthz", NULL, "public", 0, api_healthz},
    {"GET", "/readyz", NULL, "public", 0, api_readyz},
    /* the web console's static files (api_console.c): public, the API calls it makes are not */
    {"GET", "/ui", NULL, "public", 0, api_console_redirect},
    {"GET", "/ui/", NULL, "public", 0, api_console_index},
    {"GET", "/ui/{file}", NULL, "public", 0, api_console_file},

    /* ACME (RFC 8555): authenticated by the JWS of each request, not by a token */
    {"GET", ACME "/directory", NULL, "public", 0, api_acme},
    {"GET", ACME "/new-nonce", NULL, "public", 0, api_acme},
    {"GET", ACME "/renewal-info/{certid}", NULL, "public", 0, api_acme},
    {"POST", ACME "/new-account", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/new-order", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/revoke-cert", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/key-change", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/acct/{account}", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/acct/{account}/orders", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/order/{order}", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/order/{order}/finalize", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/authz/{authz}", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/chall/{authz}/{type}", JOSE, "public", ACME_BODY, api_acme},
    {"POST", ACME "/cert/{serial}", JOSE, "public", ACME_BODY, api_acme},

    /* EST (RFC 7030): authenticated by Basic credentials or the TLS client certificate */
    EST_ROUTES(EST),
    EST_ROUTES(EST_T),
    EST_ROUTES("/.well-known/est"), /* est_default_endpoint, if set */
    /* CMP over HTTP (RFC 6712): every message carries its own protection */
    {"POST", CMP, PKIXCMP, "public", CMP_BODY, api_cmp},
    /* SCEP (RFC 8894): every pkiMessage is signed by its requester */
    {"GET", SCEP, NULL, "public", 0, api_scep},
    {"POST", SCEP, "application/x-pki-message", "public", SCEP_BODY, api_scep},

    {"POST", "/api/v1/tenants", JSON, "system", SMALL, api_tenant_create},
    {"GET", "/api/v1/tenants", NULL, "system", 0, api_tenant_list},
    {"GET", "/api/v1/tenants/{tenant}", NULL, "system", 0, api_tenant_show},
    {"POST", "/api/v1/tenants/{tenant}/suspend", JSON, "system", SMALL, api_tenant_suspend},
    {"POST", "/api/v1/tenants/{tenant}/reactivate", JSON, "system", SMALL, api_tenant_reactivate},
    {"DELETE", "/api/v1/tenants/{tenant}", NULL, "system", 0, api_tenant_delete},
    {"PUT", "/api/v1/tenants/{tenant}/limits", JSON, "system", SMALL, api_tenant_limits},
    {"POST", "/api/v1/tenants/{tenant}/tokens", JSON, "system", SMALL, api_tenant_token},
    {"POST", "/api/v1/tokens/rotate", JSON, "system", SMALL, api_token_rotate},
    {"GET", "/api/v1/audit", NULL, "system", 0, api_system_audit},
    {"GET", "/api/v1/audit/verify", NULL, "system", 0, api_system_audit_verify},
    {"GET", "/api/v1/audit/export", NULL, "system", 0, api_system_audit_export},

    {"POST", T "/cas", JSON, "ca.write", SMALL, api_ca_create},
    {"GET", T "/cas", NULL, "ca.read", 0, api_ca_list},
    {"POST", T "/cas/import", JSON, "ca.write", LARGE, api_ca_import},
    {"GET", T "/cas/{ca}", NULL, "ca.read", 0, api_ca_show},
    {"GET", T "/cas/{ca}/csr", NULL, "ca.read", 0, api_ca_csr},
    {"POST", T "/cas/{ca}/certificate", JSON, "ca.write", LARGE, api_ca_import_cert},
    {"POST", T "/cas/{ca}/disable", JSON, "ca.write", SMALL, api_ca_disable},
    {"POST", T "/cas/{ca}/crl", JSON, "crl.write", SMALL, api_crl_generate},
    {"GET", T "/cas/{ca}/crl", NULL, "ca.read", 0, api_crl_show},
    {"POST", T "/cas/{ca}/offline-request", JSON, "ca.write", SMALL, api_offline_request},
    /* an offline CA's bundle carries every record of one CA (docs/offline.md) */
    {"POST", T "/offline/import", JSON, "ca.write", BUNDLE_MAX, api_offline_import},

    {"GET", T "/keys", NULL, "ca.read", 0, api_key_list},
    {"POST", T "/keys", JSON, "ca.write", SMALL, api_key_generate},
    {"DELETE", T "/keys/{key}", NULL, "ca.write", 0, api_key_delete},

    {"GET", T "/profiles", NULL, "profile.read", 0, api_profile_list},
    {"POST", T "/profiles", JSON, "profile.write", SMALL, api_profile_create},
    {"GET", T "/profiles/{profile}", NULL, "profile.read", 0, api_profile_show},
    {"PUT", T "/profiles/{profile}", JSON, "profile.write", SMALL, api_profile_update},
    {"POST", T "/profiles/{profile}/clone", JSON, "profile.write", SMALL, api_profile_clone},

    {"POST", T "/certificates", JSON, "cert.issue", SMALL, api_cert_issue},
    {"POST", T "/certificates/keygen", JSON, "cert.issue", SMALL, api_cert_keygen},
    {"GET", T "/certificates", NULL, "cert.read", 0, api_cert_search},
    {"GET", T "/certificates/expiring", NULL, "cert.read", 0, api_cert_expiring},
    {"GET", T "/reports/{name}", NULL, "report.read", 0, api_report},
    {"GET", T "/certificates/{serial}", NULL, "cert.read", 0, api_cert_show},
    {"POST", T "/certificates/{serial}/revoke", JSON, "cert.revoke", SMALL, api_cert_revoke},
    {"POST", T "/certificates/{serial}/suspend", JSON, "cert.revoke", SMALL, api_cert_suspend},
    {"POST", T "/certificates/{serial}/reinstate", JSON, "cert.revoke", SMALL, api_cert_reinstate},
    {"POST", T "/certificates/{serial}/renew", JSON, "cert.issue", SMALL, api_cert_renew},
    {"GET", T "/certificates/{serial}/renewal-window", NULL, "acme.read", 0,
     api_cert_renewal_window_get},
    {"PUT", T "/certificates/{serial}/renewal-window", JSON, "acme.write", SMALL,
     api_cert_renewal_window_put},

    {"POST", T "/entities", JSON, "entity.write", SMALL, api_entity_create},
    {"GET", T "/entities", NULL, "entity.read", 0, api_entity_list},
    {"GET", T "/entities/{entity}", NULL, "entity.read", 0, api_entity_show},
    {"PUT", T "/entities/{entity}", JSON, "entity.write", SMALL, api_entity_update},

    {"GET", T "/audit", NULL, "audit.read", 0, api_audit_list},
    {"GET", T "/audit/verify", NULL, "audit.read", 0, api_audit_verify},
    {"GET", T "/audit/export", NULL, "audit.read", 0, api_audit_export},
    {"GET", T "/audit/checkpoints", NULL, "audit.read", 0, api_audit_checkpoints},
    {"POST", T "/audit/checkpoints", JSON, "audit.write", SMALL, api_audit_checkpoint},
    {"GET", T "/audit/forwarding", NULL, "audit.read", 0, api_audit_forwarding_get},
    {"PUT", T "/audit/forwarding", JSON, "audit.write", SMALL, api_audit_forwarding_put},
    {"DELETE", T "/audit/forwarding", NULL, "audit.write", 0, api_audit_forwarding_delete},

    {"POST", T "/tsa", JSON, "tsa.write", SMALL, api_tsa_create},
    {"GET", T "/tsa", NULL, "tsa.read", 0, api_tsa_list},
    {"GET", T "/tsa/{unit}", NULL, "tsa.read", 0, api_tsa_show},
    {"PUT", T "/tsa/{unit}", JSON, "tsa.write", SMALL, api_tsa_update},
    {"GET", T "/tsa/{unit}/tokens", NULL, "tsa.read", 0, api_tsa_token_search},
    {"GET", T "/tsa/{unit}/tokens/{serial}", NULL, "tsa.read", 0, api_tsa_token_show},

    {"GET", T "/requests", NULL, "request.read", 0, api_request_list},
    {"GET", T "/requests/{request}", NULL, "request.read", 0, api_request_show},
    {"POST", T "/requests/{request}/approve", JSON, "request.approve", SMALL, api_request_approve},
    {"POST", T "/requests/{request}/reject", JSON, "request.approve", SMALL, api_request_reject},
    {"GET", T "/workflows", NULL, "workflow.read", 0, api_workflow_list},
    {"GET", T "/workflows/{workflow}", NULL, "workflow.read", 0, api_workflow_show},
    {"PUT", T "/workflows/{workflow}", JSON, "workflow.write", SMALL, api_workflow_put},
    {"DELETE", T "/workflows/{workflow}", NULL, "workflow.write", 0, api_workflow_delete},
    {"GET", T "/webhook", NULL, "webhook.read", 0, api_webhook_get},
    {"PUT", T "/webhook", JSON, "webhook.write", SMALL, api_webhook_put},
    {"DELETE", T "/webhook", NULL, "webhook.write", 0, api_webhook_delete},
    {"GET", T "/notices", NULL, "notice.read", 0, api_notice_list},
    {"GET", T "/notices/settings", NULL, "notice.read", 0, api_notice_settings_get},
    {"PUT", T "/notices/settings", JSON, "notice.write", SMALL, api_notice_settings_put},

    {"POST", T "/acme/endpoints", JSON, "acme.write", SMALL, api_acme_endpoint_create},
    {"GET", T "/acme/endpoints", NULL, "acme.read", 0, api_acme_endpoint_list},
    {"GET", T "/acme/endpoints/{endpoint}", NULL, "acme.read", 0, api_acme_endpoint_show},
    {"PUT", T "/acme/endpoints/{endpoint}", JSON, "acme.write", SMALL, api_acme_endpoint_update},
    {"POST", T "/acme/endpoints/{endpoint}/eab", JSON, "acme.write", SMALL, api_acme_eab_create},
    {"GET", T "/acme/endpoints/{endpoint}/eab", NULL, "acme.read", 0, api_acme_eab_list},
    {"POST", T "/acme/endpoints/{endpoint}/eab/{kid}/revoke", JSON, "acme.write", SMALL,
     api_acme_eab_revoke},

    {"POST", T "/enroll/endpoints", JSON, "enroll.write", SMALL, api_enroll_endpoint_create},
    {"GET", T "/enroll/endpoints", NULL, "enroll.read", 0, api_enroll_endpoint_list},
    {"GET", T "/enroll/endpoints/{endpoint}", NULL, "enroll.read", 0, api_enroll_endpoint_show},
    {"PUT", T "/enroll/endpoints/{endpoint}", JSON, "enroll.write", SMALL,
     api_enroll_endpoint_update},
    {"POST", T "/enroll/endpoints/{endpoint}/credentials", JSON, "enroll.write", SMALL,
     api_enroll_credential_create},
    {"GET", T "/enroll/endpoints/{endpoint}/credentials", NULL, "enroll.read", 0,
     api_enroll_credential_list},
    {"POST", T "/enroll/endpoints/{endpoint}/credentials/{credential}/revoke", JSON, "enroll.write",
     SMALL, api_enroll_credential_revoke},
    {"POST", T "/cmp/endpoints", JSON, "cmp.write", SMALL, api_cmp_endpoint_create},
    {"GET", T "/cmp/endpoints", NULL, "cmp.read", 0, api_cmp_endpoint_list},
    {"GET", T "/cmp/endpoints/{endpoint}", NULL, "cmp.read", 0, api_cmp_endpoint_show},
    {"PUT", T "/cmp/endpoints/{endpoint}", JSON, "cmp.write", SMALL, api_cmp_endpoint_update},
    {"POST", T "/cmp/endpoints/{endpoint}/secrets", JSON, "cmp.write", SMALL,
     api_cmp_secret_create},
    {"GET", T "/cmp/endpoints/{endpoint}/secrets", NULL, "cmp.read", 0, api_cmp_secret_list},
    {"POST", T "/cmp/endpoints/{endpoint}/secrets/{reference}/revoke", JSON, "cmp.write", SMALL,
     api_cmp_secret_revoke},

    {"POST", T "/tokens", JSON, "token.write", SMALL, api_token_create},
    {"POST", T "/tokens/rotate", JSON, "token.rotate", SMALL, api_token_rotate},
    {"GET", T "/tokens", NULL, "token.read", 0, api_token_list},
    {"DELETE", T "/tokens/{token}", NULL, "token.write", 0, api_token_delete},

    {"GET", T "/me", NULL, "self.read", 0, api_me},
    {"POST", T "/principals", JSON, "principal.write", SMALL, api_principal_create},
    {"GET", T "/principals", NULL, "principal.read", 0, api_principal_list},
    {"GET", T "/principals/{principal}", NULL, "principal.read", 0, api_principal_show},
    {"POST", T "/principals/{principal}/disable", JSON, "principal.write", SMALL,
     api_principal_disable},
    {"POST", T "/principals/{principal}/enable", JSON, "principal.write", SMALL,
     api_principal_enable},
    {"GET", T "/roles", NULL, "principal.read", 0, api_role_list},
    {"POST", T "/roles/bind", JSON, "principal.write", SMALL, api_role_bind},
    {"POST", T "/roles/unbind", JSON, "principal.write", SMALL, api_role_unbind},
    {"POST", T "/client-cas", JSON, "principal.write", SMALL, api_client_ca_create},
    {"GET", T "/client-cas", NULL, "principal.read", 0, api_client_ca_list},
    {"DELETE", T "/client-cas/{client_ca}", NULL, "principal.write", 0, api_client_ca_delete},
};

static const struct http_route public_routes[] = {
    {"GET", "/healthz", NULL, "public", 0, api_healthz},
    {"GET", "/readyz", NULL, "public", 0, api_public_readyz}, /* ready or not, no details */
    {"GET", "/crl/{tenant}/{ca}.crl", NULL, "public", 0, api_public_crl},
    {"GET", "/crl/{tenant}/{ca}/{file}", NULL, "public", 0, api_public_crl_scope},
    {"GET", "/ca/{tenant}/{ca}.crt", NULL, "public", 0, api_public_ca},
    {"POST", "/ocsp/{tenant}", OCSP_REQ, "public", OCSP_MAX, api_ocsp_post},
    {"POST", "/ocsp/{tenant}/{ca}", OCSP_REQ, "public", OCSP_MAX, api_ocsp_post},
    {"GET", "/ocsp/{tenant}/{req*}", NULL, "public", 0, api_ocsp_get},
    /* RFC 3161 §3.4; a TimeStampReq is ~100 bytes (a few KB with extensions) */
    {"POST", "/tsa/{tenant}/{unit}", "application/timestamp-query", "public", 16 * KB,
     api_public_tsa},
    {"POST", CMP, PKIXCMP, "public", CMP_BODY, api_cmp},
    {"GET", SCEP, NULL, "public", 0, api_scep},
    {"POST", SCEP, "application/x-pki-message", "public", SCEP_BODY, api_scep},
};

const struct http_route *api_routes(size_t *n)
{
    *n = ARRAY_LEN(routes);
    return routes;
}

static void routes_print(FILE *out, const struct http_route *r, size_t n, const char *listener,
                         int *first)
{
    for (size_t i = 0; i < n; i++, *first = 0)
        fprintf(out,
                "%s\n  {\"method\": \"%s\", \"path\": \"%s\", \"permission\": \"%s\", "
                "\"listener\": \"%s\", \"content_type\": %s%s%s, \"body_limit\": %zu%s}",
                *first ? "" : ",", r[i].method, r[i].pattern, r[i].permission, listener,
                r[i].content_type ? "\"" : "", r[i].content_type ? r[i].content_type : "null",
                r[i].content_type ? "\"" : "", r[i].body_limit,
                strncmp(r[i].pattern, T "/", strlen(T "/")) != 0 ? ""
                : api_route_allowed_while_suspended(&r[i])       ? ", \"while_suspended\": true"
                                                                 : ", \"while_suspended\": false");
}

void api_routes_print(FILE *out)
{
    int first = 1;

    const char *const tenants[] = {"default", "_system"};

    fprintf(out, "{\"routes\": [");
    routes_print(out, routes, ARRAY_LEN(routes), "api", &first);
    routes_print(out, public_routes, ARRAY_LEN(public_routes), "public", &first);
    /* The role map the permissions are checked against (docs/api.md's table is tested on it). */
    fprintf(out, "\n], \"roles\": {");
    first = 1;
    for (size_t t = 0; t < ARRAY_LEN(tenants); t++)
        for (const char *const *r = svc_roles(tenants[t]); r != NULL && *r != NULL; r++) {
            const char *const *p = svc_role_permissions(*r);
            fprintf(out, "%s\n  \"%s\": [", first ? "" : ",", *r);
            for (size_t i = 0; p != NULL && p[i] != NULL; i++)
                fprintf(out, "%s\"%s\"", i ? ", " : "", p[i]);
            fprintf(out, "]");
            first = 0;
        }
    fprintf(out, "\n}}\n");
}

const struct http_route *api_public_routes(size_t *n)
{
    *n = ARRAY_LEN(public_routes);
    return public_routes;
}
