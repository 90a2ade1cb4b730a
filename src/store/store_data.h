/*
 * store_data.h — what the files of store.h's data calls share (store_data.c,
 * store_data_acme.c): opening a query for a tenant, the common shapes of a
 * call, and the calls each file gives the backends' tables.  Not for other
 * modules.
 */
#ifndef VOUCH_STORE_DATA_H
#define VOUCH_STORE_DATA_H

#include "store/store_driver.h"

#define TX(base) ((struct db_tx *)(base))

/* Declares `st` and opens query q of tx on it for tenant, or returns -1 with e set. */
#define OPEN(tenant, q)                                                                            \
    struct db_stmt st;                                                                             \
    if (db_open(&st, TX(tx), (tenant), (q), e) != 0)                                               \
        return -1;

int data_limit(int limit);
/* store_reports.c */
int data_report(struct store_tx *tx, const char *tenant, enum store_report r, int64_t from,
                int64_t to, const char *ca, int64_t now, struct report_rows *out, struct err *e);
void data_bind_page(struct db_stmt *st, int i, int limit, int offset);
int data_read_all_across(struct store_tx *tx, enum query_id q, const struct row_type *t,
                         void ***out, size_t *n, const char *what, struct err *e);
int data_insert_row(struct store_tx *tx, const char *tenant, enum query_id q,
                    const struct row_type *t, const void *rec, const char *what, struct err *e);
int data_put_row(struct store_tx *tx, const char *tenant, enum query_id q, const struct row_type *t,
                 const void *rec, const char *what, struct err *e);
int data_get_of(struct store_tx *tx, const char *tenant, enum query_id q, const struct row_type *t,
                void **out, const char *what, struct err *e);
int data_get_by(struct store_tx *tx, const char *tenant, enum query_id q, const char *key,
                const struct row_type *t, void **out, const char *what, struct err *e);
int data_list_of(struct store_tx *tx, const char *tenant, enum query_id q, const struct row_type *t,
                 void ***out, size_t *n, const char *what, struct err *e);
int data_delete_by(struct store_tx *tx, const char *tenant, enum query_id q, const char *key,
                   int key_less, const char *what, struct err *e);
int data_acme_endpoint_insert(struct store_tx *tx, const char *tenant,
                              const struct acme_endpoint_rec *r, struct err *e);
int data_acme_endpoint_update(struct store_tx *tx, const char *tenant,
                              const struct acme_endpoint_rec *r, struct err *e);
int data_acme_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                           struct acme_endpoint_rec **out, struct err *e);
int data_acme_endpoint_list(struct store_tx *tx, const char *tenant,
                            struct acme_endpoint_rec ***out, size_t *n, struct err *e);
int data_acme_eab_insert(struct store_tx *tx, const char *tenant, const struct acme_eab_rec *r,
                         struct err *e);
int data_acme_eab_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                      const char *kid, struct acme_eab_rec **out, struct err *e);
int data_acme_eab_update(struct store_tx *tx, const char *tenant, const struct acme_eab_rec *r,
                         struct err *e);
int data_acme_eab_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                       struct acme_eab_rec ***out, size_t *n, struct err *e);
int data_acme_account_insert(struct store_tx *tx, const char *tenant,
                             const struct acme_account_rec *r, struct err *e);
int data_acme_account_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                          const char *id, struct acme_account_rec **out, struct err *e);
int data_acme_account_by_key(struct store_tx *tx, const char *tenant, const char *endpoint,
                             const char *thumbprint, struct acme_account_rec **out, struct err *e);
int data_acme_account_update(struct store_tx *tx, const char *tenant,
                             const struct acme_account_rec *r, struct err *e);
int data_acme_account_by_eab(struct store_tx *tx, const char *tenant, const char *endpoint,
                             const char *kid, struct acme_account_rec ***out, size_t *n,
                             struct err *e);
int data_acme_order_insert(struct store_tx *tx, const char *tenant, const struct acme_order_rec *r,
                           struct err *e);
int data_acme_order_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                        const char *id, struct acme_order_rec **out, struct err *e);
int data_acme_order_update(struct store_tx *tx, const char *tenant, const struct acme_order_rec *r,
                           struct err *e);
int data_acme_order_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                         const char *account, int limit, int offset, struct acme_order_rec ***out,
                         size_t *n, struct err *e);
int data_acme_authz_insert(struct store_tx *tx, const char *tenant, const struct acme_authz_rec *r,
                           struct err *e);
int data_acme_authz_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                        const char *id, struct acme_authz_rec **out, struct err *e);
int data_acme_authz_update(struct store_tx *tx, const char *tenant, const struct acme_authz_rec *r,
                           struct err *e);
int data_acme_authz_reusable(struct store_tx *tx, const char *tenant, const char *endpoint,
                             const char *account, const char *ident_type, const char *ident_value,
                             int wildcard, int64_t until, struct acme_authz_rec **out,
                             struct err *e);
int data_acme_authz_stalled(struct store_tx *tx, const char *tenant, int64_t before, int limit,
                            struct acme_authz_rec ***out, size_t *n, struct err *e);
int data_acme_nonce_use(struct store_tx *tx, const char *tenant, const char *nonce, int64_t expires,
                        struct err *e);
int data_acme_prune(struct store_tx *tx, const char *tenant, int64_t before, int64_t *n,
                    struct err *e);
int data_acme_nonce_prune(struct store_tx *tx, const char *tenant, int64_t before, int64_t *n,
                          struct err *e);
int data_secret_get_or_put(struct store_tx *tx, const char *tenant, const char *name,
                           const char *value, char **out, struct err *e);
int data_renewal_window_put(struct store_tx *tx, const char *tenant,
                            const struct renewal_window_rec *r, struct err *e);
int data_renewal_window_get(struct store_tx *tx, const char *tenant, const char *serial,
                            struct renewal_window_rec **out, struct err *e);
int data_enroll_endpoint_insert(struct store_tx *tx, const char *tenant,
                                const struct enroll_endpoint_rec *r, struct err *e);
int data_enroll_endpoint_update(struct store_tx *tx, const char *tenant,
                                const struct enroll_endpoint_rec *r, struct err *e);
int data_enroll_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                             struct enroll_endpoint_rec **out, struct err *e);
int data_enroll_endpoint_list(struct store_tx *tx, const char *tenant,
                              struct enroll_endpoint_rec ***out, size_t *n, struct err *e);
int data_enroll_credential_insert(struct store_tx *tx, const char *tenant,
                                  const struct enroll_credential_rec *r, struct err *e);
int data_enroll_credential_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                               const char *id, struct enroll_credential_rec **out, struct err *e);
int data_enroll_credential_update(struct store_tx *tx, const char *tenant,
                                  const struct enroll_credential_rec *r, struct err *e);
int data_enroll_credential_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                                struct enroll_credential_rec ***out, size_t *n, struct err *e);

/* store_data_notice.c */
int data_notice_settings_get(struct store_tx *tx, const char *tenant,
                             struct notice_settings_rec **out, struct err *e);
int data_notice_settings_put(struct store_tx *tx, const char *tenant,
                             const struct notice_settings_rec *r, struct err *e);
int data_notice_due(struct store_tx *tx, const char *tenant, int64_t now, const int *days, int n,
                    int limit, struct cert_rec ***out, size_t *count, struct err *e);
int data_notice_claim(struct store_tx *tx, const char *tenant, const char *serial,
                      int64_t threshold, const char *kind, const char *state, int64_t now,
                      struct err *e);
int data_notice_ca_due(struct store_tx *tx, const char *tenant, int64_t now, const int *days, int n,
                       int limit, struct ca_rec ***out, size_t *count, struct err *e);
int data_notice_mark(struct store_tx *tx, const char *tenant, const struct notice_rec *r,
                     struct err *e);
int data_notice_list(struct store_tx *tx, const char *tenant, const char *state, int limit,
                     int offset, struct notice_rec ***out, size_t *n, struct err *e);
int data_notice_pending(struct store_tx *tx, const char *tenant, int64_t now, int limit,
                        struct notice_rec ***out, size_t *n, struct err *e);
/* store_data_cmp.c */
int data_cmp_prune(struct store_tx *tx, const char *tenant, int64_t now, int64_t before, int64_t *n,
                   struct err *e);
int data_cmp_endpoint_insert(struct store_tx *tx, const char *tenant,
                             const struct cmp_endpoint_rec *r, struct err *e);
int data_cmp_endpoint_update(struct store_tx *tx, const char *tenant,
                             const struct cmp_endpoint_rec *r, struct err *e);
int data_cmp_endpoint_get(struct store_tx *tx, const char *tenant, const char *name,
                          struct cmp_endpoint_rec **out, struct err *e);
int data_cmp_endpoint_list(struct store_tx *tx, const char *tenant, struct cmp_endpoint_rec ***out,
                           size_t *n, struct err *e);
int data_cmp_secret_insert(struct store_tx *tx, const char *tenant, const struct cmp_secret_rec *r,
                           struct err *e);
int data_cmp_secret_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                        const char *ref, struct cmp_secret_rec **out, struct err *e);
int data_cmp_secret_update(struct store_tx *tx, const char *tenant, const struct cmp_secret_rec *r,
                           struct err *e);
int data_cmp_secret_list(struct store_tx *tx, const char *tenant, const char *endpoint,
                         struct cmp_secret_rec ***out, size_t *n, struct err *e);
int data_cmp_transaction_insert(struct store_tx *tx, const char *tenant,
                                const struct cmp_transaction_rec *r, struct err *e);
int data_cmp_transaction_get(struct store_tx *tx, const char *tenant, const char *endpoint,
                             const char *txid, struct cmp_transaction_rec **out, struct err *e);
int data_cmp_transaction_update(struct store_tx *tx, const char *tenant,
                                const struct cmp_transaction_rec *r, struct err *e);
int data_cmp_transaction_expired(struct store_tx *tx, const char *tenant, int64_t before, int limit,
                                 struct cmp_transaction_rec ***out, size_t *n, struct err *e);
int data_cmp_nonce_use(struct store_tx *tx, const char *tenant, const char *nonce, int64_t expires,
                       struct err *e);

#endif
