/* Values between JSON and libpq for postgres.c: the names of built-in result types and
 * the binding of a query's parameters. */
#include <stdlib.h>
#include <string.h>
#include "postgres_internal.h"

const char *pg_type_name(Oid t)
{
    switch (t) {
    case 16: return "bool";
    case 17: return "bytea";
    case 18: return "char";
    case 19: return "name";
    case 20: return "int8";
    case 21: return "int2";
    case 23: return "int4";
    case 25: return "text";
    case 26: return "oid";
    case 114: return "json";
    case 700: return "float4";
    case 701: return "float8";
    case 1042: return "bpchar";
    case 1043: return "varchar";
    case 1082: return "date";
    case 1083: return "time";
    case 1114: return "timestamp";
    case 1184: return "timestamptz";
    case 1186: return "interval";
    case 1700: return "numeric";
    case 2950: return "uuid";
    case 3802: return "jsonb";
    default: return NULL;
    }
}

/* Binds a JSON array of scalars as text parameters. */
int pg_bind_params(json_t *params, int *n, char ***vals, cb_error *e)
{
    *n = 0;
    *vals = NULL;
    if (!params || json_is_null(params)) return 0;
    if (!json_is_array(params)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "params must be a JSON array");
    size_t cnt = json_array_size(params);
    if (cnt > 65535) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "too many params");
    char **v = cb_calloc(cnt ? cnt : 1, sizeof *v);
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(params, i);
        if (json_is_string(x)) {
            if (memchr(json_string_value(x), 0, json_string_length(x))) goto bad;
            v[i] = cb_strdup(json_string_value(x));
        } else if (json_is_integer(x)) v[i] = cb_sprintf("%lld", (long long)json_integer_value(x));
        else if (json_is_real(x)) v[i] = cb_sprintf("%.17g", json_real_value(x));
        else if (json_is_true(x)) v[i] = cb_strdup("true");
        else if (json_is_false(x)) v[i] = cb_strdup("false");
        else if (json_is_null(x)) v[i] = NULL;
        else {
bad:
            for (size_t j = 0; j < i; j++) free(v[j]);
            free(v);
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "param %zu: only strings, numbers, booleans and null can be bound", i + 1);
        }
    }
    *n = (int)cnt;
    *vals = v;
    return 0;
}
