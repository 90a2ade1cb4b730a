/*
 * store_records.c — freeing and copying the records store calls return: each
 * by its record type's columns (store_rows.c), so a new column needs nothing
 * here.  Every *_free accepts NULL.
 */
#include "store/store_rows.h"

void tenant_rec_free(struct tenant_rec *r)
{
    row_free(&row_tenant, r);
}

void ca_rec_free(struct ca_rec *r)
{
    row_free(&row_ca, r);
}

struct ca_rec *ca_rec_dup(const struct ca_rec *r)
{
    return row_dup(&row_ca, r);
}

void profile_rec_free(struct profile_rec *r)
{
    row_free(&row_profile, r);
}

void entity_rec_free(struct entity_rec *r)
{
    row_free(&row_entity, r);
}

struct entity_rec *entity_rec_dup(const struct entity_rec *r)
{
    return row_dup(&row_entity, r);
}

void cert_rec_free(struct cert_rec *r)
{
    row_free(&row_cert, r);
}

void cert_rec_list_free(struct cert_rec **list, size_t n)
{
    row_list_free(&row_cert, (void **)list, n);
}

struct cert_rec *cert_rec_dup(const struct cert_rec *r)
{
    return row_dup(&row_cert, r);
}

void crl_rec_free(struct crl_rec *r)
{
    row_free(&row_crl, r);
}

void ocsp_responder_rec_free(struct ocsp_responder_rec *r)
{
    row_free(&row_responder, r);
}

void ocsp_resp_rec_free(struct ocsp_resp_rec *r)
{
    row_free(&row_ocsp, r);
}

void token_rec_free(struct token_rec *r)
{
    row_free(&row_token, r);
}

void principal_rec_free(struct principal_rec *r)
{
    row_free(&row_principal, r);
}

void principal_rec_list_free(struct principal_rec **list, size_t n)
{
    row_list_free(&row_principal, (void **)list, n);
}

void client_ca_rec_free(struct client_ca_rec *r)
{
    row_free(&row_client_ca, r);
}

void client_ca_rec_list_free(struct client_ca_rec **list, size_t n)
{
    row_list_free(&row_client_ca, (void **)list, n);
}

void binding_rec_free(struct binding_rec *r)
{
    row_free(&row_binding, r);
}

void binding_rec_list_free(struct binding_rec **list, size_t n)
{
    row_list_free(&row_binding, (void **)list, n);
}

void audit_rec_free(struct audit_rec *r)
{
    row_free(&row_audit, r);
}

void audit_rec_list_free(struct audit_rec **list, size_t n)
{
    row_list_free(&row_audit, (void **)list, n);
}

void audit_key_rec_free(struct audit_key_rec *r)
{
    row_free(&row_audit_key, r);
}

void audit_checkpoint_rec_free(struct audit_checkpoint_rec *r)
{
    row_free(&row_checkpoint, r);
}

void audit_checkpoint_rec_list_free(struct audit_checkpoint_rec **list, size_t n)
{
    row_list_free(&row_checkpoint, (void **)list, n);
}

void audit_target_rec_free(struct audit_target_rec *r)
{
    row_free(&row_target, r);
}

void audit_target_rec_list_free(struct audit_target_rec **list, size_t n)
{
    row_list_free(&row_target, (void **)list, n);
}

void tsa_unit_rec_free(struct tsa_unit_rec *r)
{
    row_free(&row_tsa_unit, r);
}

void tsa_unit_rec_list_free(struct tsa_unit_rec **list, size_t n)
{
    row_list_free(&row_tsa_unit, (void **)list, n);
}

void tsa_token_rec_free(struct tsa_token_rec *r)
{
    row_free(&row_tsa_token, r);
}

void tsa_token_rec_list_free(struct tsa_token_rec **list, size_t n)
{
    row_list_free(&row_tsa_token, (void **)list, n);
}

void workflow_rec_free(struct workflow_rec *r)
{
    row_free(&row_workflow, r);
}

void workflow_rec_list_free(struct workflow_rec **list, size_t n)
{
    row_list_free(&row_workflow, (void **)list, n);
}

void request_rec_free(struct request_rec *r)
{
    row_free(&row_request, r);
}

void request_rec_list_free(struct request_rec **list, size_t n)
{
    row_list_free(&row_request, (void **)list, n);
}

void webhook_rec_free(struct webhook_rec *r)
{
    row_free(&row_webhook, r);
}

void webhook_event_rec_free(struct webhook_event_rec *r)
{
    row_free(&row_webhook_event, r);
}

void webhook_event_rec_list_free(struct webhook_event_rec **list, size_t n)
{
    row_list_free(&row_webhook_event, (void **)list, n);
}

void idempotency_rec_free(struct idempotency_rec *r)
{
    row_free(&row_idempotency, r);
}

void offline_import_rec_free(struct offline_import_rec *r)
{
    row_free(&row_offline_import, r);
}

void acme_endpoint_rec_free(struct acme_endpoint_rec *r)
{
    row_free(&row_acme_endpoint, r);
}

void acme_endpoint_rec_list_free(struct acme_endpoint_rec **list, size_t n)
{
    row_list_free(&row_acme_endpoint, (void **)list, n);
}

void acme_eab_rec_free(struct acme_eab_rec *r)
{
    row_free(&row_acme_eab, r);
}

void acme_eab_rec_list_free(struct acme_eab_rec **list, size_t n)
{
    row_list_free(&row_acme_eab, (void **)list, n);
}

void acme_account_rec_free(struct acme_account_rec *r)
{
    row_free(&row_acme_account, r);
}

void acme_account_rec_list_free(struct acme_account_rec **list, size_t n)
{
    row_list_free(&row_acme_account, (void **)list, n);
}

void acme_order_rec_free(struct acme_order_rec *r)
{
    row_free(&row_acme_order, r);
}

void acme_order_rec_list_free(struct acme_order_rec **list, size_t n)
{
    row_list_free(&row_acme_order, (void **)list, n);
}

void acme_authz_rec_free(struct acme_authz_rec *r)
{
    row_free(&row_acme_authz, r);
}

void acme_authz_rec_list_free(struct acme_authz_rec **list, size_t n)
{
    row_list_free(&row_acme_authz, (void **)list, n);
}

void notice_settings_rec_free(struct notice_settings_rec *r)
{
    row_free(&row_notice_settings, r);
}

void notice_rec_free(struct notice_rec *r)
{
    row_free(&row_notice, r);
}

void notice_rec_list_free(struct notice_rec **list, size_t n)
{
    row_list_free(&row_notice, (void **)list, n);
}

void renewal_window_rec_free(struct renewal_window_rec *r)
{
    row_free(&row_renewal_window, r);
}

void enroll_endpoint_rec_free(struct enroll_endpoint_rec *r)
{
    row_free(&row_enroll_endpoint, r);
}

void enroll_endpoint_rec_list_free(struct enroll_endpoint_rec **list, size_t n)
{
    row_list_free(&row_enroll_endpoint, (void **)list, n);
}

void enroll_credential_rec_free(struct enroll_credential_rec *r)
{
    row_free(&row_enroll_credential, r);
}

void enroll_credential_rec_list_free(struct enroll_credential_rec **list, size_t n)
{
    row_list_free(&row_enroll_credential, (void **)list, n);
}

void cmp_endpoint_rec_free(struct cmp_endpoint_rec *r)
{
    row_free(&row_cmp_endpoint, r);
}

void cmp_endpoint_rec_list_free(struct cmp_endpoint_rec **list, size_t n)
{
    row_list_free(&row_cmp_endpoint, (void **)list, n);
}

void cmp_secret_rec_free(struct cmp_secret_rec *r)
{
    row_free(&row_cmp_secret, r);
}

void cmp_secret_rec_list_free(struct cmp_secret_rec **list, size_t n)
{
    row_list_free(&row_cmp_secret, (void **)list, n);
}

void cmp_transaction_rec_free(struct cmp_transaction_rec *r)
{
    row_free(&row_cmp_transaction, r);
}

void cmp_transaction_rec_list_free(struct cmp_transaction_rec **list, size_t n)
{
    row_list_free(&row_cmp_transaction, (void **)list, n);
}
