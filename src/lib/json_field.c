/* json_field.c — checked reads of a JSON object's fields (json_field.h). */
#include "lib/json_field.h"

#include <string.h>

int json_field_str(const json_t *o, const char *key, int required, const char **out, struct err *e)
{
    const json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return required ? err_set(e, ERR_INVALID, "%s: required", key) : 0;
    if (!json_is_string(v))
        return err_set(e, ERR_INVALID, "%s: must be a string", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return err_set(e, ERR_INVALID, "%s: must not contain NUL", key);
    *out = json_string_value(v);
    return 0;
}

int json_field_int(const json_t *o, const char *key, long long min, long long max, long long *out,
                   struct err *e)
{
    const json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return err_set(e, ERR_INVALID, "%s: must be an integer from %lld to %lld", key, min, max);
    *out = json_integer_value(v);
    return 0;
}

int json_field_bool(const json_t *o, const char *key, int *out, struct err *e)
{
    const json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return err_set(e, ERR_INVALID, "%s: must be true or false", key);
    *out = json_is_true(v);
    return 0;
}
