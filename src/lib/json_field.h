/*
 * json_field.h — reading the fields of a JSON object with the checks every
 * reader of client input needs (type, range, no NUL in strings), errors
 * naming the field.  Shared by the REST API and svc's operation reader.
 */
#ifndef VOUCH_JSON_FIELD_H
#define VOUCH_JSON_FIELD_H

#include <jansson.h>

#include "lib/util.h"

/*
 * An optional string field (with required, an absent or null one is an
 * error): *out points into o, NULL when absent.  -1 with e (ERR_INVALID)
 * naming the field.
 */
int json_field_str(const json_t *o, const char *key, int required, const char **out, struct err *e);
/* An optional integer field in [min, max]; *out left as it is when absent. */
int json_field_int(const json_t *o, const char *key, long long min, long long max, long long *out,
                   struct err *e);
/* An optional boolean field; *out (0 or 1) left as it is when absent. */
int json_field_bool(const json_t *o, const char *key, int *out, struct err *e);

#endif
