/*
 * store_rows.c — the columns of every record type (store_rows.h).  The order
 * of a table is the order of its record's column list in every query.  Each
 * member's C type is checked against its field type when this file compiles.
 */
#include "store/store_rows.h"

#include <stdlib.h>
#include <string.h>

/* The offset of member m of REC, which must be of C type ctype. */
#define MEMBER(m, ctype) _Generic(((REC *)0)->m, ctype : offsetof(REC, m))

/* The tables are kept one column a line, in column order. */
/* clang-format off */
#define TEXT(m)               {#m, FIELD_TEXT, MEMBER(m, char *), 0, NULL, 0}
#define TEXT_AS(col, m, dflt) {col, FIELD_TEXT, MEMBER(m, char *), 0, dflt, 0}
#define SECRET(m, dflt)       {#m, FIELD_TEXT, MEMBER(m, char *), 0, dflt, 1}
#define INT64(m)              {#m, FIELD_INT64, MEMBER(m, int64_t), 0, NULL, 0}
#define INT64_AS(col, m)      {col, FIELD_INT64, MEMBER(m, int64_t), 0, NULL, 0}
#define INT(m)                {#m, FIELD_INT, MEMBER(m, int), 0, NULL, 0}
#define BLOB(m, len) \
    {#m, FIELD_BLOB, MEMBER(m, unsigned char *), MEMBER(len, size_t), NULL, 0}
#define BLOB_AS(col, m, len) \
    {col, FIELD_BLOB, MEMBER(m, unsigned char *), MEMBER(len, size_t), NULL, 0}
#define ROW(name, rec, fields) {name, fields, ARRAY_LEN(fields), sizeof(rec)}

#define REC struct tenant_rec
static const struct field tenant_fields[] = {
    TEXT(name),
    TEXT(status),
    INT64(created),
    TEXT(status_reason),
    INT64(deleted_at),
    INT64(purge_after),
    INT(certs_per_hour),
    INT(requests_per_second),
};
#undef REC
const struct row_type row_tenant = ROW("tenant", struct tenant_rec, tenant_fields);

#define REC struct ca_rec
static const struct field ca_fields[] = {
    TEXT(tenant),
    TEXT(name),
    TEXT(parent),
    TEXT(key_id),
    TEXT(key_type),
    TEXT(status),
    TEXT(subject),
    BLOB_AS("cert", cert_der, cert_len),
    BLOB_AS("csr", csr_der, csr_len),
    BLOB_AS("chain", chain_der, chain_len),
    TEXT_AS("options", options_json, "{}"),
    INT64(not_before),
    INT64(not_after),
    INT64(created),
};
#undef REC
const struct row_type row_ca = ROW("ca", struct ca_rec, ca_fields);

#define REC struct profile_rec
static const struct field profile_fields[] = {
    TEXT(tenant),
    TEXT(name),
    INT(version),
    TEXT(json),
    INT64(created),
};
#undef REC
const struct row_type row_profile = ROW("profile", struct profile_rec, profile_fields);

#define REC struct entity_rec
static const struct field entity_fields[] = {
    TEXT(tenant),
    TEXT(id),
    TEXT(name),
    TEXT(kind),
    TEXT(email),
    TEXT(manufacturer),
    TEXT(model),
    TEXT(serial_number),
    TEXT_AS("metadata", metadata_json, "{}"),
    INT64(created),
};
#undef REC
const struct row_type row_entity = ROW("entity", struct entity_rec, entity_fields);

#define REC struct cert_rec
static const struct field cert_fields[] = {
    TEXT(tenant),
    TEXT(serial),
    TEXT(ca),
    TEXT(profile),
    INT(profile_version),
    TEXT(entity_id),
    TEXT(subject),
    TEXT(sans),
    TEXT(status),
    INT64(not_before),
    INT64(not_after),
    INT64(revoked_at),
    INT(reason),
    INT64(invalidity_date),
    TEXT(renewed_from),
    BLOB(der, der_len),
    INT64(created),
    INT64(status_changed),
    INT(crl_shard),
    INT(counted),
    TEXT(requester),
};
#undef REC
const struct row_type row_cert = ROW("cert", struct cert_rec, cert_fields);

#define REC struct crl_rec
static const struct field crl_fields[] = {
    TEXT(tenant),
    TEXT(ca),
    INT64(number),
    INT64(this_update),
    INT64(next_update),
    BLOB(der, der_len),
    INT(shard),
    INT64(delta_base),
};
#undef REC
const struct row_type row_crl = ROW("crl", struct crl_rec, crl_fields);

#define REC struct ocsp_responder_rec
static const struct field responder_fields[] = {
    TEXT(tenant),
    TEXT(ca),
    TEXT(key_id),
    TEXT(key_type),
    TEXT(serial),
    BLOB_AS("cert", cert_der, cert_len),
    INT64(not_after),
    INT64(created),
};
#undef REC
const struct row_type row_responder = ROW("responder", struct ocsp_responder_rec, responder_fields);

#define REC struct ocsp_resp_rec
static const struct field ocsp_fields[] = {
    TEXT(tenant),
    TEXT(serial),
    TEXT(ca),
    INT64(refresh_at),
    INT64(this_update),
    INT64(next_update),
    BLOB(der, der_len),
};
#undef REC
const struct row_type row_ocsp = ROW("ocsp", struct ocsp_resp_rec, ocsp_fields);

#define REC struct token_rec
static const struct field token_fields[] = {
    TEXT(tenant),
    TEXT(id),
    TEXT(name),
    TEXT(hash),
    TEXT(role),
    INT64(expires),
    INT64(created),
    TEXT(principal),
    TEXT(secret),
    INT64(revoked),
    TEXT(creators),
};
#undef REC
const struct row_type row_token = ROW("token", struct token_rec, token_fields);

#define REC struct principal_rec
static const struct field principal_fields[] = {
    TEXT(tenant),
    TEXT(id),
    TEXT(name),
    TEXT(kind),
    TEXT(allow),
    INT(disabled),
    INT64(created),
    TEXT(cert_issuer),
    TEXT(cert_subject),
    TEXT(cert_sha256),
};
#undef REC
const struct row_type row_principal = ROW("principal", struct principal_rec, principal_fields);

#define REC struct client_ca_rec
static const struct field client_ca_fields[] = {
    TEXT(tenant),
    TEXT(name),
    TEXT(ca),
    BLOB(cert, cert_len),
    INT64(created),
};
#undef REC
const struct row_type row_client_ca = ROW("client_ca", struct client_ca_rec, client_ca_fields);

#define REC struct binding_rec
static const struct field binding_fields[] = {
    TEXT(tenant),
    TEXT(principal_tenant),
    TEXT(principal),
    TEXT(role),
    INT64(created),
    TEXT(granted_by),
    INT64(granted),
};
#undef REC
const struct row_type row_binding = ROW("binding", struct binding_rec, binding_fields);

#define REC struct audit_rec
static const struct field audit_fields[] = {
    TEXT(tenant),
    INT64(seq),
    INT64(time),
    TEXT(actor),
    TEXT(action),
    TEXT_AS("object", object, ""),
    TEXT(result),
    TEXT_AS("detail", detail, "{}"),
    TEXT(prev_hash),
    TEXT(hash),
};
#undef REC
const struct row_type row_audit = ROW("audit", struct audit_rec, audit_fields);

#define REC struct audit_key_rec
static const struct field audit_key_fields[] = {
    TEXT(tenant),
    TEXT(key_id),
    TEXT(key_type),
    TEXT(public_pem),
    INT64(created),
};
#undef REC
const struct row_type row_audit_key = ROW("audit_key", struct audit_key_rec, audit_key_fields);

#define REC struct audit_checkpoint_rec
static const struct field checkpoint_fields[] = {
    TEXT(tenant),
    INT64(seq),
    INT64(time),
    TEXT(head_hash),
    TEXT(key_id),
    BLOB(der, der_len),
    BLOB(sig, sig_len),
};
#undef REC
const struct row_type row_checkpoint =
    ROW("checkpoint", struct audit_checkpoint_rec, checkpoint_fields);

#define REC struct audit_target_rec
static const struct field target_fields[] = {
    TEXT(tenant),
    TEXT(host),
    INT(port),
    TEXT(transport),
    TEXT(ca_pem),
    INT64(created),
};
#undef REC
const struct row_type row_target = ROW("target", struct audit_target_rec, target_fields);

#define REC struct tsa_unit_rec
static const struct field tsa_unit_fields[] = {
    TEXT(tenant),
    TEXT(name),
    TEXT(ca),
    TEXT(key_id),
    TEXT(key_type),
    TEXT(status),
    TEXT(cert_serial),
    BLOB_AS("cert", cert_der, cert_len),
    BLOB_AS("chain", chain_der, chain_len),
    TEXT(policy),
    TEXT_AS("policies", policies_json, NULL),
    TEXT_AS("hashes", hashes_json, NULL),
    INT64(accuracy_ms),
    INT(include_chain),
    INT64(created),
};
#undef REC
const struct row_type row_tsa_unit = ROW("tsa_unit", struct tsa_unit_rec, tsa_unit_fields);

#define REC struct tsa_token_rec
static const struct field tsa_token_fields[] = {
    TEXT(tenant),
    TEXT(unit),
    TEXT(serial),
    TEXT(gen_time),
    INT64(time),
    TEXT(policy),
    TEXT(hash_alg),
    TEXT(imprint),
    TEXT(nonce),
    TEXT(requester),
    BLOB(der, der_len),
};
#undef REC
const struct row_type row_tsa_token = ROW("tsa_token", struct tsa_token_rec, tsa_token_fields);

#define REC struct workflow_rec
static const struct field workflow_fields[] = {
    TEXT(tenant),
    TEXT(name),
    INT(required),
    TEXT(approvers),
    INT(expires_hours),
    INT64(created),
};
#undef REC
const struct row_type row_workflow = ROW("workflow", struct workflow_rec, workflow_fields);

#define REC struct request_rec
static const struct field request_fields[] = {
    TEXT(tenant),
    TEXT(id),
    TEXT(kind),
    TEXT(object),
    TEXT(params),
    TEXT(requester),
    TEXT(status),
    INT(required),
    TEXT(approvers),
    TEXT(approvals),
    TEXT(result),
    TEXT(reason),
    INT64(created),
    INT64(expires),
    INT64(decided),
};
#undef REC
const struct row_type row_request = ROW("request", struct request_rec, request_fields);

#define REC struct webhook_rec
static const struct field webhook_fields[] = {
    TEXT(tenant),
    TEXT(url),
    SECRET(secret, ""),
    INT64(created),
    TEXT(key_id),
    TEXT(nonce),
};
#undef REC
const struct row_type row_webhook = ROW("webhook", struct webhook_rec, webhook_fields);

#define REC struct webhook_event_rec
static const struct field webhook_event_fields[] = {
    TEXT(tenant),
    TEXT(id),
    TEXT(event),
    TEXT(body),
    INT(attempts),
    INT64(next_attempt),
    TEXT(status),
    INT64(created),
};
#undef REC
const struct row_type row_webhook_event =
    ROW("webhook_event", struct webhook_event_rec, webhook_event_fields);

#define REC struct idempotency_rec
static const struct field idempotency_fields[] = {
    TEXT(tenant),
    TEXT(key),
    TEXT(principal),
    TEXT(request_hash),
    TEXT(object),
    INT64(created),
    TEXT(outcome),
};
#undef REC
const struct row_type row_idempotency =
    ROW("idempotency", struct idempotency_rec, idempotency_fields);

#define REC struct offline_import_rec
static const struct field offline_import_fields[] = {
    TEXT(tenant),
    TEXT(source),
    INT64(seq),
    TEXT(digest),
    TEXT(signer),
    INT64(audit_seq),
    TEXT(audit_head),
    INT64(imported),
};
#undef REC
const struct row_type row_offline_import =
    ROW("offline_import", struct offline_import_rec, offline_import_fields);

#define REC struct acme_endpoint_rec
static const struct field acme_endpoint_fields[] = {
    TEXT(tenant),
    TEXT(name),
    TEXT(ca),
    TEXT(status),
    TEXT_AS("settings", settings, "{}"),
    INT64(created),
    INT64(updated),
};
#undef REC
const struct row_type row_acme_endpoint =
    ROW("acme_endpoint", struct acme_endpoint_rec, acme_endpoint_fields);

#define REC struct acme_eab_rec
static const struct field acme_eab_fields[] = {
    TEXT(tenant),
    TEXT(endpoint),
    TEXT(kid),
    TEXT(key_id),
    TEXT(nonce),
    TEXT_AS("settings", settings, "{}"),
    TEXT(status),
    INT64(uses),
    INT64(created),
    INT64(updated),
    TEXT(creators),
};
#undef REC
const struct row_type row_acme_eab = ROW("acme_eab", struct acme_eab_rec, acme_eab_fields);

#define REC struct cmp_endpoint_rec
static const struct field cmp_endpoint_fields[] = {
    TEXT(tenant),
    TEXT(name),
    TEXT(ca),
    TEXT(status),
    TEXT_AS("settings", settings, "{}"),
    INT64(created),
    INT64(updated),
    TEXT(key_id),
    TEXT(cert_serial),
};
#undef REC
const struct row_type row_cmp_endpoint =
    ROW("cmp_endpoint", struct cmp_endpoint_rec, cmp_endpoint_fields);

#define REC struct cmp_secret_rec
static const struct field cmp_secret_fields[] = {
    TEXT(tenant),
    TEXT(endpoint),
    TEXT(ref),
    TEXT(key_id),
    TEXT(nonce),
    TEXT_AS("settings", settings, "{}"),
    TEXT(status),
    INT64(uses),
    INT64(created),
    INT64(updated),
    TEXT(creators),
};
#undef REC
const struct row_type row_cmp_secret = ROW("cmp_secret", struct cmp_secret_rec, cmp_secret_fields);

#define REC struct cmp_transaction_rec
static const struct field cmp_transaction_fields[] = {
    TEXT(tenant),
    TEXT(endpoint),
    TEXT(txid),
    TEXT(status),
    TEXT(serial),
    TEXT(cert_hash),
    TEXT(requester),
    TEXT(protection),
    TEXT(request),
    TEXT(message),
    TEXT(server_nonce),
    INT64(expires),
    INT64(created),
    INT64(updated),
};
#undef REC
const struct row_type row_cmp_transaction =
    ROW("cmp_transaction", struct cmp_transaction_rec, cmp_transaction_fields);

#define REC struct acme_account_rec
static const struct field acme_account_fields[] = {
    TEXT(tenant),
    TEXT(endpoint),
    TEXT(id),
    TEXT(thumbprint),
    TEXT(jwk),
    TEXT(status),
    TEXT_AS("contact", contact, "[]"),
    TEXT(eab_kid),
    INT64(created),
    INT64(updated),
    TEXT(creators),
};
#undef REC
const struct row_type row_acme_account =
    ROW("acme_account", struct acme_account_rec, acme_account_fields);

#define REC struct acme_order_rec
static const struct field acme_order_fields[] = {
    TEXT(tenant),
    TEXT(endpoint),
    TEXT(id),
    TEXT(account),
    TEXT(status),
    TEXT(identifiers),
    TEXT_AS("authzs", authzs, "[]"),
    TEXT(profile),
    INT64(not_before),
    INT64(not_after),
    INT64(expires),
    TEXT(error),
    TEXT(serial),
    TEXT(request),
    TEXT(replaces),
    INT64(created),
    INT64(updated),
};
#undef REC
const struct row_type row_acme_order = ROW("acme_order", struct acme_order_rec, acme_order_fields);

#define REC struct acme_authz_rec
static const struct field acme_authz_fields[] = {
    TEXT(tenant),
    TEXT(endpoint),
    TEXT(id),
    TEXT(account),
    TEXT(ident_type),
    TEXT(ident_value),
    INT(wildcard),
    TEXT(status),
    INT64(expires),
    TEXT_AS("challenges", challenges, "[]"),
    INT64(validating),
    INT64(created),
    INT64(updated),
};
#undef REC
const struct row_type row_acme_authz = ROW("acme_authz", struct acme_authz_rec, acme_authz_fields);

/* "start" and "end" are SQL keywords: the columns are named for what they bound. */
#define REC struct renewal_window_rec
static const struct field renewal_window_fields[] = {
    TEXT(tenant),
    TEXT(serial),
    INT64_AS("window_start", start),
    INT64_AS("window_end", end),
    TEXT(reason),
    INT64(created),
};
#undef REC
const struct row_type row_renewal_window =
    ROW("renewal_window", struct renewal_window_rec, renewal_window_fields);

#define REC struct notice_settings_rec
static const struct field notice_settings_fields[] = {
    TEXT(tenant), INT(enabled), TEXT(thresholds), TEXT(recipients), INT64(updated),
};
#undef REC
const struct row_type row_notice_settings =
    ROW("notice_settings", struct notice_settings_rec, notice_settings_fields);

#define REC struct notice_rec
static const struct field notice_fields[] = {
    TEXT(tenant),   TEXT(serial),     INT64(threshold), TEXT(kind),     TEXT(state),
    INT64(attempts), INT64(next_try), INT64(created),   INT64(sent_at),
};
#undef REC
const struct row_type row_notice = ROW("notice", struct notice_rec, notice_fields);

#define REC struct enroll_endpoint_rec
static const struct field enroll_endpoint_fields[] = {
    TEXT(tenant),
    TEXT(name),
    TEXT(protocol),
    TEXT(ca),
    TEXT(profile),
    TEXT(status),
    TEXT_AS("settings", settings, "{}"),
    INT64(created),
    INT64(updated),
};
#undef REC
const struct row_type row_enroll_endpoint =
    ROW("enroll_endpoint", struct enroll_endpoint_rec, enroll_endpoint_fields);

#define REC struct enroll_credential_rec
static const struct field enroll_credential_fields[] = {
    TEXT(tenant),
    TEXT(endpoint),
    TEXT(id),
    TEXT(secret_hash),
    INT64(reusable),
    TEXT(status),
    INT64(uses),
    TEXT(creators),
    INT64(created),
    INT64(updated),
};
#undef REC
const struct row_type row_enroll_credential =
    ROW("enroll_credential", struct enroll_credential_rec, enroll_credential_fields);

/* clang-format on */

static const struct row_type *const row_types[] = {
    &row_tenant,
    &row_ca,
    &row_profile,
    &row_entity,
    &row_cert,
    &row_crl,
    &row_responder,
    &row_ocsp,
    &row_token,
    &row_principal,
    &row_client_ca,
    &row_binding,
    &row_audit,
    &row_audit_key,
    &row_checkpoint,
    &row_target,
    &row_tsa_unit,
    &row_tsa_token,
    &row_workflow,
    &row_request,
    &row_webhook,
    &row_webhook_event,
    &row_idempotency,
    &row_offline_import,
    &row_acme_endpoint,
    &row_acme_eab,
    &row_acme_account,
    &row_acme_order,
    &row_acme_authz,
    &row_renewal_window,
    &row_enroll_endpoint,
    &row_enroll_credential,
    &row_cmp_endpoint,
    &row_cmp_secret,
    &row_cmp_transaction,
    &row_notice_settings,
    &row_notice,
};

const struct row_type *row_type_find(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(row_types); i++)
        if (strlen(row_types[i]->name) == len && memcmp(row_types[i]->name, name, len) == 0)
            return row_types[i];
    return NULL;
}

void row_free(const struct row_type *t, void *rec)
{
    if (rec == NULL)
        return;
    for (int i = 0; i < t->nfields; i++) {
        const struct field *f = &t->fields[i];
        char **text = row_member(rec, f);

        if (f->type == FIELD_TEXT && f->secret && *text != NULL)
            secure_zero(*text, strlen(*text));
        if (f->type == FIELD_TEXT)
            free(*text);
        else if (f->type == FIELD_BLOB)
            free(*(unsigned char **)row_member(rec, f));
    }
    free(rec);
}

void row_list_free(const struct row_type *t, void **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        row_free(t, list[i]);
    free(list);
}

void *row_dup(const struct row_type *t, const void *rec)
{
    unsigned char *copy = xmalloc(t->size);

    memcpy(copy, rec, t->size);
    for (int i = 0; i < t->nfields; i++) {
        const struct field *f = &t->fields[i];
        char **text = row_member(copy, f);
        unsigned char **blob = row_member(copy, f);
        size_t len = f->type == FIELD_BLOB ? *(size_t *)(copy + f->len_offset) : 0;

        if (f->type == FIELD_TEXT && *text != NULL)
            *text = xstrdup(*text);
        else if (f->type == FIELD_BLOB && *blob != NULL)
            *blob = memcpy(xmalloc(len), *blob, len);
    }
    return copy;
}
