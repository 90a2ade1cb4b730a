/* store_records.c — freeing the records store calls return (each accepts NULL). */
#include "store/store.h"

#include <stdlib.h>

void tenant_rec_free(struct tenant_rec *r)
{
    if (r == NULL)
        return;
    free(r->name);
    free(r->status);
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

void token_rec_free(struct token_rec *r)
{
    if (r == NULL)
        return;
    free(r->tenant);
    free(r->id);
    free(r->name);
    free(r->hash);
    free(r->role);
    free(r);
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
