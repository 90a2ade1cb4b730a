/*
 * store_rows.h — the row mapping of both backends: every record type of
 * store.h described once, as a table of its columns (name, type, where the
 * member is).  The backends' column lists are generated from these tables
 * ({name} in a query text, store_driver.h), and records are bound and read
 * through them (db_bind_row, db_read_one, db_read_all); the records' *_free
 * and *_dup functions of store.h are row_free and row_dup.
 *
 * Every member of a record is one of its columns (a blob's length with it).
 * Adding a column: the member in store.h, the field in store_rows.c, a
 * migration in sqlite_schema.c and pg_schema.c; the queries that set it
 * other than through its record (an UPDATE) name it.
 */
#ifndef VOUCH_STORE_ROWS_H
#define VOUCH_STORE_ROWS_H

#include <stddef.h>

#include "store/store.h"

enum field_type {
    FIELD_TEXT,  /* char *; NULL is SQL NULL */
    FIELD_INT64, /* int64_t; SQL NULL reads as 0 */
    FIELD_INT,   /* int; SQL NULL reads as 0 */
    FIELD_BLOB,  /* unsigned char * and its size_t length; NULL is SQL NULL, and no bytes read as
                    NULL */
};

struct field {
    const char *column;
    enum field_type type;
    size_t offset;        /* of the member in the record */
    size_t len_offset;    /* FIELD_BLOB: of the member holding its length */
    const char *fallback; /* FIELD_TEXT: what is written in place of NULL (NULL: SQL NULL) */
    int secret;           /* FIELD_TEXT: zeroed before it is freed */
};

struct row_type {
    const char *name;           /* a query text's {name} stands for its column list */
    const struct field *fields; /* in the order of that list */
    int nfields;
    size_t size; /* of the record */
};

extern const struct row_type row_tenant, row_ca, row_profile, row_entity, row_cert, row_crl,
    row_responder, row_ocsp, row_token, row_principal, row_client_ca, row_binding, row_audit,
    row_audit_key, row_checkpoint, row_target, row_tsa_unit, row_tsa_token, row_workflow,
    row_request, row_webhook, row_webhook_event, row_idempotency, row_offline_import,
    row_acme_endpoint, row_acme_eab, row_acme_account, row_acme_order, row_acme_authz,
    row_renewal_window, row_enroll_endpoint, row_enroll_credential, row_cmp_endpoint,
    row_cmp_secret, row_cmp_transaction, row_notice_settings, row_notice;

/* The record type called name (len bytes, not terminated); NULL if there is none. */
const struct row_type *row_type_find(const char *name, size_t len);

/* Frees rec of type t: its texts (a secret one zeroed first) and blobs, then rec; accepts NULL. */
void row_free(const struct row_type *t, void *rec);
/* Frees the n records of type t in list, then list; accepts NULL. */
void row_list_free(const struct row_type *t, void **list, size_t n);
/* A deep copy of rec of type t (the caller frees it with row_free). */
void *row_dup(const struct row_type *t, const void *rec);

/* The member of rec that field f describes. */
static inline void *row_member(const void *rec, const struct field *f)
{
    return (unsigned char *)rec + f->offset;
}

#endif
