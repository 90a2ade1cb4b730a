/* store_records.c — freeing the records store calls return (each accepts NULL). */
#include "store/store.h"
#include "store/store_free.h"

#include <stdlib.h>
#include <string.h>

void tenant_rec_free(struct tenant_rec *r)
{
    if (r == NULL)
        return;
    free(r->name);
    free(r->status);
    free(r->status_reason);
    free(r);
}

void ca_rec_free(struct ca_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->name);
    free(r->parent);
    free(r->key_id);
    free(r->key_type);
    free(r->status);
    free(r->subject);
    free(r->cert_der);
    free(r->csr_der);
    free(r->chain_der);
    free(r->options_json);
    free(r);
}

void profile_rec_free(struct profile_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->name);
    free(r->json);
    free(r);
}

void entity_rec_free(struct entity_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->id);
    free(r->name);
    free(r->kind);
    free(r->email);
    free(r->manufacturer);
    free(r->model);
    free(r->serial_number);
    free(r->metadata_json);
    free(r);
}

void cert_rec_free(struct cert_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->serial);
    free(r->ca);
    free(r->profile);
    free(r->entity_id);
    free(r->subject);
    free(r->sans);
    free(r->status);
    free(r->renewed_from);
    free(r->requester);
    free(r->der);
    free(r);
}

void cert_rec_list_free(struct cert_rec **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        cert_rec_free(list[i]);
    free(list);
}

void crl_rec_free(struct crl_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->ca);
    free(r->der);
    free(r);
}

void ocsp_responder_rec_free(struct ocsp_responder_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->ca);
    free(r->key_id);
    free(r->key_type);
    free(r->serial);
    free(r->cert_der);
    free(r);
}

void ocsp_resp_rec_free(struct ocsp_resp_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->serial);
    free(r->ca);
    free(r->der);
    free(r);
}

void token_rec_free(struct token_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->id);
    free(r->name);
    free(r->hash);
    free(r->role);
    free(r->principal);
    free(r->secret);
    free(r);
}

void principal_rec_free(struct principal_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->id);
    free(r->name);
    free(r->kind);
    free(r->allow);
    free(r->cert_issuer);
    free(r->cert_subject);
    free(r->cert_sha256);
    free(r);
}

void client_ca_rec_free(struct client_ca_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->name);
    free(r->ca);
    free(r->cert);
    free(r);
}

void client_ca_rec_list_free(struct client_ca_rec **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        client_ca_rec_free(list[i]);
    free(list);
}

void store_free_client_ca(void *r)
{
    client_ca_rec_free(r);
}

void principal_rec_list_free(struct principal_rec **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        principal_rec_free(list[i]);
    free(list);
}

void binding_rec_free(struct binding_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->principal_tenant);
    free(r->principal);
    free(r->role);
    free(r);
}

void binding_rec_list_free(struct binding_rec **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        binding_rec_free(list[i]);
    free(list);
}

void audit_rec_free(struct audit_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->actor);
    free(r->action);
    free(r->object);
    free(r->result);
    free(r->detail);
    free(r->prev_hash);
    free(r->hash);
    free(r);
}

void audit_rec_list_free(struct audit_rec **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        audit_rec_free(list[i]);
    free(list);
}

void tsa_unit_rec_free(struct tsa_unit_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->name);
    free(r->ca);
    free(r->key_id);
    free(r->key_type);
    free(r->status);
    free(r->cert_serial);
    free(r->cert_der);
    free(r->chain_der);
    free(r->policy);
    free(r->policies_json);
    free(r->hashes_json);
    free(r);
}

void tsa_unit_rec_list_free(struct tsa_unit_rec **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        tsa_unit_rec_free(list[i]);
    free(list);
}

void tsa_token_rec_free(struct tsa_token_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->unit);
    free(r->serial);
    free(r->gen_time);
    free(r->policy);
    free(r->hash_alg);
    free(r->imprint);
    free(r->nonce);
    free(r->requester);
    free(r->der);
    free(r);
}

void tsa_token_rec_list_free(struct tsa_token_rec **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        tsa_token_rec_free(list[i]);
    free(list);
}

#define DUP_STR(f) c->f = r->f ? xstrdup(r->f) : NULL
#define DUP_BLOB(f, n)                                                                             \
    if (r->f != NULL) {                                                                            \
        c->f = xmalloc(r->n);                                                                      \
        memcpy(c->f, r->f, r->n);                                                                  \
    }

struct ca_rec *ca_rec_dup(const struct ca_rec *r)
{
    struct ca_rec *c = xcalloc(1, sizeof(*c));

    *c = *r;
    DUP_STR(tenant);
    DUP_STR(name);
    DUP_STR(parent);
    DUP_STR(key_id);
    DUP_STR(key_type);
    DUP_STR(status);
    DUP_STR(subject);
    DUP_STR(options_json);
    DUP_BLOB(cert_der, cert_len);
    DUP_BLOB(csr_der, csr_len);
    DUP_BLOB(chain_der, chain_len);
    return c;
}

struct cert_rec *cert_rec_dup(const struct cert_rec *r)
{
    struct cert_rec *c = xcalloc(1, sizeof(*c));

    *c = *r;
    DUP_STR(tenant);
    DUP_STR(serial);
    DUP_STR(ca);
    DUP_STR(profile);
    DUP_STR(entity_id);
    DUP_STR(subject);
    DUP_STR(sans);
    DUP_STR(status);
    DUP_STR(renewed_from);
    DUP_STR(requester);
    DUP_BLOB(der, der_len);
    return c;
}

struct entity_rec *entity_rec_dup(const struct entity_rec *r)
{
    struct entity_rec *c = xcalloc(1, sizeof(*c));

    *c = *r;
    DUP_STR(tenant);
    DUP_STR(id);
    DUP_STR(name);
    DUP_STR(kind);
    DUP_STR(email);
    DUP_STR(manufacturer);
    DUP_STR(model);
    DUP_STR(serial_number);
    DUP_STR(metadata_json);
    return c;
}

void audit_key_rec_free(struct audit_key_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->key_id);
    free(r->key_type);
    free(r->public_pem);
    free(r);
}

void audit_checkpoint_rec_free(struct audit_checkpoint_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->head_hash);
    free(r->key_id);
    free(r->der);
    free(r->sig);
    free(r);
}

void audit_checkpoint_rec_list_free(struct audit_checkpoint_rec **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        audit_checkpoint_rec_free(list[i]);
    free(list);
}

void audit_target_rec_free(struct audit_target_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->host);
    free(r->transport);
    free(r->ca_pem);
    free(r);
}

void audit_target_rec_list_free(struct audit_target_rec **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        audit_target_rec_free(list[i]);
    free(list);
}

void workflow_rec_free(struct workflow_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->name);
    free(r->approvers);
    free(r);
}

void workflow_rec_list_free(struct workflow_rec **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        workflow_rec_free(list[i]);
    free(list);
}

void request_rec_free(struct request_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->id);
    free(r->kind);
    free(r->object);
    free(r->params);
    free(r->requester);
    free(r->status);
    free(r->approvers);
    free(r->approvals);
    free(r->result);
    free(r->reason);
    free(r);
}

void request_rec_list_free(struct request_rec **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        request_rec_free(list[i]);
    free(list);
}

void webhook_rec_free(struct webhook_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->url);
    if (r->secret != NULL)
        secure_zero(r->secret, strlen(r->secret));
    free(r->secret);
    free(r->key_id);
    free(r->nonce);
    free(r);
}

void webhook_event_rec_free(struct webhook_event_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->id);
    free(r->event);
    free(r->body);
    free(r->status);
    free(r);
}

void webhook_event_rec_list_free(struct webhook_event_rec **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        webhook_event_rec_free(list[i]);
    free(list);
}

/* ---- void * adapters (store_free.h) ---------------------------------- */

void store_free_workflow(void *r)
{
    workflow_rec_free(r);
}

void store_free_request(void *r)
{
    request_rec_free(r);
}

void store_free_webhook(void *r)
{
    webhook_rec_free(r);
}

void store_free_webhook_event(void *r)
{
    webhook_event_rec_free(r);
}

void store_free_audit(void *r)
{
    audit_rec_free(r);
}

void store_free_audit_key(void *r)
{
    audit_key_rec_free(r);
}

void offline_import_rec_free(struct offline_import_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->source);
    free(r->digest);
    free(r->signer);
    free(r->audit_head);
    free(r);
}

void idempotency_rec_free(struct idempotency_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->key);
    free(r->principal);
    free(r->request_hash);
    free(r->object);
    free(r->outcome);
    free(r);
}

void store_free_idempotency(void *r)
{
    idempotency_rec_free(r);
}

void store_free_offline_import(void *r)
{
    offline_import_rec_free(r);
}

void store_free_ca(void *r)
{
    ca_rec_free(r);
}

void store_free_cert(void *r)
{
    cert_rec_free(r);
}

void store_free_checkpoint(void *r)
{
    audit_checkpoint_rec_free(r);
}

void store_free_crl(void *r)
{
    crl_rec_free(r);
}

void store_free_entity(void *r)
{
    entity_rec_free(r);
}

void store_free_ocsp(void *r)
{
    ocsp_resp_rec_free(r);
}

void store_free_profile(void *r)
{
    profile_rec_free(r);
}

void store_free_responder(void *r)
{
    ocsp_responder_rec_free(r);
}

void store_free_target(void *r)
{
    audit_target_rec_free(r);
}

void store_free_tenant(void *r)
{
    tenant_rec_free(r);
}

void store_free_token(void *r)
{
    token_rec_free(r);
}

void store_free_principal(void *r)
{
    principal_rec_free(r);
}

void store_free_binding(void *r)
{
    binding_rec_free(r);
}

void store_free_tsa_token(void *r)
{
    tsa_token_rec_free(r);
}

void store_free_tsa_unit(void *r)
{
    tsa_unit_rec_free(r);
}
