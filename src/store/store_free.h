/*
 * store_free.h — the records' *_free functions as void * callbacks, for the
 * record types of the row mapping (store_rows.c).
 */
#ifndef VOUCH_STORE_FREE_H
#define VOUCH_STORE_FREE_H

void store_free_audit(void *r);
void store_free_audit_key(void *r);
void store_free_ca(void *r);
void store_free_cert(void *r);
void store_free_checkpoint(void *r);
void store_free_crl(void *r);
void store_free_entity(void *r);
void store_free_ocsp(void *r);
void store_free_profile(void *r);
void store_free_responder(void *r);
void store_free_target(void *r);
void store_free_tenant(void *r);
void store_free_token(void *r);
void store_free_principal(void *r);
void store_free_binding(void *r);
void store_free_client_ca(void *r);
void store_free_tsa_token(void *r);
void store_free_tsa_unit(void *r);
void store_free_workflow(void *r);
void store_free_request(void *r);
void store_free_webhook(void *r);
void store_free_webhook_event(void *r);
void store_free_offline_import(void *r);
void store_free_idempotency(void *r);

#endif
