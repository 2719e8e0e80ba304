/* Typed readers for policy values with file:line:column diagnostics, shared by the
 * policy parsers (policy.c, policy_connections.c). */
#include <stdlib.h>
#include "policy_values.h"

void policy_set_origin(policy_origin *o, const char *file, const jdoc_pos *at)
{
    o->file = cb_strdup(file);
    o->line = at ? at->key_line : 0;
    o->column = at ? at->key_col : 0;
}

int policy_get_int(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path,
                   long long lo, long long hi, long long *out)
{
    if (!json_is_integer(v)) {
        jdoc_err(c, at, "%s: must be an integer %lld..%lld", path, lo, hi);
        return -1;
    }
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        jdoc_err(c, at, "%s: %lld out of range %lld..%lld", path, x, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

const char *policy_get_str(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, size_t max)
{
    if (!json_is_string(v)) {
        jdoc_err(c, at, "%s: must be a string", path);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0) {
        jdoc_err(c, at, "%s: must not be empty", path);
        return NULL;
    }
    if (n > max) {
        jdoc_err(c, at, "%s: longer than %zu characters", path, max);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            jdoc_err(c, at, "%s: contains a control character", path);
            return NULL;
        }
    return s;
}

const char *policy_get_name(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path)
{
    const char *s = policy_get_str(c, v, at, path, 1024);
    if (!s) return NULL;
    if (!policy_valid_name(s)) {
        char q[80];
        jdoc_quote(s, q);
        jdoc_err(c, at, "%s: \"%s\" is not a valid name (1..%d of A-Z a-z 0-9 _ . -)", path, q, POLICY_NAME_MAX);
        return NULL;
    }
    return s;
}

const jdoc_pos *policy_member_or(const jdoc_pos *obj, const char *key)
{
    const jdoc_pos *m = jdoc_member(obj, key);
    return m ? m : obj;
}

void policy_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}
