/*
 * store_data_enroll.c — the data calls of device enrollment (issue 17):
 * enrollment endpoints (EST; SCEP later) and their credentials; written once
 * for both backends as store_data.c's are (its header says how).
 */
#include "store/store_data.h"

int data_enroll_endpoint_insert(struct store_tx *tx, const char *tenant,
                                const struct enroll_endpoint_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_ENROLL_ENDPOINT_INSERT, &row_enroll_endpoint, r,
                           "enrollment endpoint", e);
}

int data_enroll_endpoint_update(struct store_tx *tx, const char *tenant,
                                const struct enroll_endpoint_rec *r, struct err *e)
{
    OPEN(tenant, Q_ENROLL_ENDPOINT_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->name);
    db_bind_text(&st, 3, r->ca);
    db_bind_text(&st, 4, r->profile);
    db_bind_text(&st, 5, r->status);
    db_bind_text(&st, 6, r->settings != NULL ? r->settings : "{}");
    db_bind_int(&st, 7, r->updated);
    return db_run_one_change(&st, "enrollment endpoint", e);
}

int data_enroll_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                             struct enroll_endpoint_rec **out, struct err *e)
{
    return data_get_by(tx, tenant, Q_ENROLL_ENDPOINT_GET, name, &row_enroll_endpoint, (void **)out,
                       "enrollment endpoint", e);
}

int data_enroll_endpoint_list(struct store_tx *tx, const char *tenant,
                              struct enroll_endpoint_rec ***out, size_t *n, struct err *e)
{
    return data_list_of(tx, tenant, Q_ENROLL_ENDPOINT_LIST, &row_enroll_endpoint, (void ***)out, n,
                        "enrollment endpoints", e);
}

int data_enroll_credential_insert(struct store_tx *tx, const char *tenant,
                                  const struct enroll_credential_rec *r, struct err *e)
{
    return data_insert_row(tx, tenant, Q_ENROLL_CREDENTIAL_INSERT, &row_enroll_credential, r,
                           "enrollment credential", e);
}

int data_enroll_credential_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                               const char *id, struct enroll_credential_rec **out, struct err *e)
{
    enum query_id q = TX(tx)->write && db_has(TX(tx), Q_ENROLL_CREDENTIAL_GET_LOCKED)
                          ? Q_ENROLL_CREDENTIAL_GET_LOCKED
                          : Q_ENROLL_CREDENTIAL_GET;

    OPEN(tenant, q);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, endpoint);
    db_bind_text(&st, 3, id);
    return db_read_one(&st, &row_enroll_credential, (void **)out, "enrollment credential", e);
}

int data_enroll_credential_update(struct store_tx *tx, const char *tenant,
                                  const struct enroll_credential_rec *r, struct err *e)
{
    OPEN(tenant, Q_ENROLL_CREDENTIAL_UPDATE);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, r->endpoint);
    db_bind_text(&st, 3, r->id);
    db_bind_text(&st, 4, r->status);
    db_bind_int(&st, 5, r->uses);
    db_bind_int(&st, 6, r->updated);
    return db_run_one_change(&st, "enrollment credential", e);
}

int data_enroll_credential_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                                struct enroll_credential_rec ***out, size_t *n, struct err *e)
{
    OPEN(tenant, Q_ENROLL_CREDENTIAL_LIST);
    db_bind_text(&st, 1, tenant);
    db_bind_text(&st, 2, endpoint);
    return db_read_all(&st, &row_enroll_credential, (void ***)out, n, "enrollment credentials", e);
}
