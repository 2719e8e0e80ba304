/* The JSON Schema subset credbroker's tool schemas use. Enough to reject wrong types,
 * missing or unexpected properties and out-of-range values before a tool runs; keywords
 * outside the subset are ignored (the schema is advice to the client as well). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "mcp.h"

#define MAX_DEPTH 32

static int type_matches(const char *t, json_t *v)
{
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    if (!strcmp(t, "null")) return json_is_null(v);
    if (!strcmp(t, "number")) return json_is_number(v);
    if (!strcmp(t, "integer")) {
        if (json_is_integer(v)) return 1;
        if (json_is_real(v)) {
            double d = json_real_value(v);
            return isfinite(d) && d == floor(d); /* 2020-12: 1.0 is an integer */
        }
    }
    return 0;
}

static const char *type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE: case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

/* Length in code points, as JSON Schema counts it. */
static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

__attribute__((format(printf, 4, 5)))
static int fail_at(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char m[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", path, m);
    return -1;
}

static int validate(json_t *sc, json_t *v, const char *path, int depth, char *err, size_t errlen)
{
    if (depth > MAX_DEPTH) return fail_at(err, errlen, path, "%s", "nested too deeply");
    if (json_is_true(sc)) return 0;
    if (json_is_false(sc)) return fail_at(err, errlen, path, "%s", "no value is allowed here");
    if (!json_is_object(sc)) return 0;

    json_t *t = json_object_get(sc, "type");
    if (json_is_string(t)) {
        if (!type_matches(json_string_value(t), v)) {
            char m[96];
            snprintf(m, sizeof m, "expected %s, got %s", json_string_value(t), type_name(v));
            return fail_at(err, errlen, path, "%s", m);
        }
    } else if (json_is_array(t)) {
        size_t i; json_t *x; int ok = 0;
        json_array_foreach(t, i, x) if (json_is_string(x) && type_matches(json_string_value(x), v)) ok = 1;
        if (!ok) return fail_at(err, errlen, path, "unexpected type %s", type_name(v));
    }

    json_t *en = json_object_get(sc, "enum");
    if (json_is_array(en)) {
        size_t i; json_t *x; int ok = 0;
        json_array_foreach(en, i, x) if (json_equal(x, v)) ok = 1;
        if (!ok) return fail_at(err, errlen, path, "%s", "value is not one of the allowed values");
    }
    json_t *cn = json_object_get(sc, "const");
    if (cn && !json_equal(cn, v)) return fail_at(err, errlen, path, "%s", "value is not the allowed constant");

    if (json_is_number(v)) {
        double d = json_number_value(v);
        json_t *mn = json_object_get(sc, "minimum"), *mx = json_object_get(sc, "maximum");
        char b[64];
        if (json_is_number(mn) && d < json_number_value(mn)) {
            snprintf(b, sizeof b, "%g", json_number_value(mn));
            return fail_at(err, errlen, path, "must be >= %s", b);
        }
        if (json_is_number(mx) && d > json_number_value(mx)) {
            snprintf(b, sizeof b, "%g", json_number_value(mx));
            return fail_at(err, errlen, path, "must be <= %s", b);
        }
    }
    if (json_is_string(v)) {
        size_t n = utf8_len(json_string_value(v), json_string_length(v));
        json_t *mn = json_object_get(sc, "minLength"), *mx = json_object_get(sc, "maxLength");
        char b[32];
        if (json_is_integer(mx) && n > (size_t)json_integer_value(mx)) {
            snprintf(b, sizeof b, "%lld", (long long)json_integer_value(mx));
            return fail_at(err, errlen, path, "longer than %s characters", b);
        }
        if (json_is_integer(mn) && n < (size_t)json_integer_value(mn)) {
            snprintf(b, sizeof b, "%lld", (long long)json_integer_value(mn));
            return fail_at(err, errlen, path, "shorter than %s characters", b);
        }
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        json_t *mn = json_object_get(sc, "minItems"), *mx = json_object_get(sc, "maxItems");
        if (json_is_integer(mx) && n > (size_t)json_integer_value(mx))
            return fail_at(err, errlen, path, "%s", "too many items");
        if (json_is_integer(mn) && n < (size_t)json_integer_value(mn))
            return fail_at(err, errlen, path, "%s", "too few items");
        json_t *items = json_object_get(sc, "items");
        if (items) {
            size_t i; json_t *x;
            json_array_foreach(v, i, x) {
                char p[256];
                snprintf(p, sizeof p, "%s[%zu]", path, i);
                if (validate(items, x, p, depth + 1, err, errlen)) return -1;
            }
        }
    }
    if (json_is_object(v)) {
        json_t *req = json_object_get(sc, "required");
        if (json_is_array(req)) {
            size_t i; json_t *x;
            json_array_foreach(req, i, x)
                if (json_is_string(x) && !json_object_get(v, json_string_value(x)))
                    return fail_at(err, errlen, path, "missing required property '%s'", json_string_value(x));
        }
        json_t *props = json_object_get(sc, "properties");
        json_t *addl = json_object_get(sc, "additionalProperties");
        const char *k; json_t *x;
        json_object_foreach(v, k, x) {
            char p[256];
            snprintf(p, sizeof p, "%s.%.100s", path, k);
            json_t *ps = json_is_object(props) ? json_object_get(props, k) : NULL;
            if (ps) {
                if (validate(ps, x, p, depth + 1, err, errlen)) return -1;
            } else if (addl) {
                if (json_is_false(addl)) return fail_at(err, errlen, path, "unexpected property '%.100s'", k);
                if (validate(addl, x, p, depth + 1, err, errlen)) return -1;
            }
        }
    }
    return 0;
}

int mcp_schema_validate_at(json_t *schema, json_t *v, const char *root, char *err, size_t errlen)
{
    if (errlen) err[0] = 0;
    return validate(schema, v, root, 0, err, errlen);
}

int mcp_schema_validate(json_t *schema, json_t *v, char *err, size_t errlen)
{
    return mcp_schema_validate_at(schema, v, "arguments", err, errlen);
}

static int check(json_t *sc, int depth, char *err, size_t errlen)
{
    if (depth > MAX_DEPTH) { snprintf(err, errlen, "schema nested too deeply"); return -1; }
    if (json_is_boolean(sc)) return 0;
    if (!json_is_object(sc)) { snprintf(err, errlen, "a schema must be an object or boolean"); return -1; }
    static const char *const types[] = {"object", "array", "string", "boolean", "null", "number", "integer", NULL};
    json_t *t = json_object_get(sc, "type");
    if (t) {
        json_t *one = t;
        size_t n = json_is_array(t) ? json_array_size(t) : 1;
        for (size_t i = 0; i < n; i++) {
            if (json_is_array(t)) one = json_array_get(t, i);
            int ok = 0;
            for (int j = 0; types[j] && json_is_string(one); j++) ok |= !strcmp(types[j], json_string_value(one));
            if (!ok) { snprintf(err, errlen, "bad \"type\""); return -1; }
        }
    }
    static const char *const nums[] = {"minimum", "maximum", NULL};
    for (int i = 0; nums[i]; i++) {
        json_t *x = json_object_get(sc, nums[i]);
        if (x && !json_is_number(x)) { snprintf(err, errlen, "\"%s\" must be a number", nums[i]); return -1; }
    }
    static const char *const ints[] = {"minLength", "maxLength", "minItems", "maxItems", NULL};
    for (int i = 0; ints[i]; i++) {
        json_t *x = json_object_get(sc, ints[i]);
        if (x && (!json_is_integer(x) || json_integer_value(x) < 0)) {
            snprintf(err, errlen, "\"%s\" must be a non-negative integer", ints[i]);
            return -1;
        }
    }
    json_t *en = json_object_get(sc, "enum");
    if (en && !json_is_array(en)) { snprintf(err, errlen, "\"enum\" must be an array"); return -1; }
    json_t *req = json_object_get(sc, "required");
    if (req) {
        size_t i; json_t *x;
        if (!json_is_array(req)) { snprintf(err, errlen, "\"required\" must be an array"); return -1; }
        json_array_foreach(req, i, x) if (!json_is_string(x)) { snprintf(err, errlen, "\"required\" must list strings"); return -1; }
    }
    json_t *props = json_object_get(sc, "properties");
    if (props) {
        const char *k; json_t *x;
        if (!json_is_object(props)) { snprintf(err, errlen, "\"properties\" must be an object"); return -1; }
        json_object_foreach(props, k, x) if (check(x, depth + 1, err, errlen)) return -1;
    }
    json_t *a = json_object_get(sc, "additionalProperties");
    if (a && check(a, depth + 1, err, errlen)) return -1;
    json_t *it = json_object_get(sc, "items");
    if (it && check(it, depth + 1, err, errlen)) return -1;
    return 0;
}

int mcp_schema_check(json_t *schema, char *err, size_t errlen)
{
    if (errlen) err[0] = 0;
    return check(schema, 0, err, errlen);
}
