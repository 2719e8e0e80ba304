/* Secret references: parsing (untrusted input), field extraction, one-shot fetch. */
#include "secret_provider.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void secret_ref_free(secret_ref *r)
{
    if (!r) return;
    free(r->text); free(r->scheme); free(r->host); free(r->mount);
    free(r->path); free(r->version); free(r->stage); free(r->field);
    memset(r, 0, sizeof *r);
}

void secret_value_free(secret_value *v)
{
    if (!v) return;
    if (v->value) cb_free_secret_n(v->value, v->len + 1);
    free(v->version);
    free(v->stages);
    memset(v, 0, sizeof *v);
}

static int bad(cb_error *e, const char *ref, const char *why)
{
    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "malformed secret reference '%.200s': %s", ref, why);
}

static int valid_chars(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p == 0x7f) return 0;
    return 1;
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Splits "k=v&k2=v2" and applies known keys; unknown keys are errors. */
static int parse_query(const char *ref, char *q, secret_ref *r, cb_error *e)
{
    char *save = NULL;
    for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv || !eq[1]) return bad(e, ref, "query parameters must be key=value");
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        if (strcmp(r->scheme, "aws-sm") == 0 && (strcmp(k, "stage") == 0 || strcmp(k, "versionStage") == 0)) {
            free(r->stage); r->stage = cb_strdup(v);
        } else if (strcmp(r->scheme, "aws-sm") == 0 && (strcmp(k, "versionId") == 0 || strcmp(k, "version") == 0)) {
            if (strlen(v) < 32 || strlen(v) > 64) return bad(e, ref, "versionId must be 32 to 64 characters");
            free(r->version); r->version = cb_strdup(v);
        } else if (strcmp(r->scheme, "vault") == 0 && strcmp(k, "version") == 0) {
            if (!all_digits(v) || strlen(v) > 9) return bad(e, ref, "version must be a positive integer");
            free(r->version); r->version = cb_strdup(v);
        } else {
            char why[160];
            snprintf(why, sizeof why, "unknown parameter '%.60s' for %s", k, r->scheme);
            return bad(e, ref, why);
        }
    }
    return 0;
}

int secret_ref_parse(const char *s, secret_ref *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s) return bad(e, "", "empty");
    if (strlen(s) > 4096) return bad(e, "(too long)", "longer than 4096 characters");
    if (!valid_chars(s)) return bad(e, "(not shown)", "contains spaces or control characters");
    const char *sep = strstr(s, "://");
    if (!sep) return bad(e, s, "expected scheme://... (aws-sm, azure-kv, vault, env, file)");
    secret_ref r = {0};
    r.text = cb_strdup(s);
    r.scheme = cb_strndup(s, (size_t)(sep - s));
    for (char *p = r.scheme; *p; p++) *p = (char)tolower((unsigned char)*p);
    char *rest = cb_strdup(sep + 3);
    int rc = 0;
    char *hash = strchr(rest, '#');
    if (hash) {
        *hash = 0;
        if (!hash[1]) { rc = bad(e, s, "empty #field"); goto out; }
        r.field = cb_strdup(hash + 1);
    }
    char *q = strchr(rest, '?');
    if (q) *q++ = 0;

    if (strcmp(r.scheme, "aws-sm") == 0) {
        if (!*rest) { rc = bad(e, s, "missing secret id"); goto out; }
        if (strlen(rest) > 2048) { rc = bad(e, s, "secret id longer than 2048"); goto out; }
        r.path = cb_strdup(rest);
    } else if (strcmp(r.scheme, "azure-kv") == 0) {
        char *slash = strchr(rest, '/');
        if (!slash || slash == rest) { rc = bad(e, s, "expected azure-kv://<vault>/<secret>[/<version>]"); goto out; }
        *slash = 0;
        char *name = slash + 1, *ver = strchr(name, '/');
        if (ver) *ver++ = 0;
        if (!*name) { rc = bad(e, s, "missing secret name"); goto out; }
        if (strlen(name) > 127) { rc = bad(e, s, "secret name longer than 127"); goto out; }
        for (char *p = name; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-') { rc = bad(e, s, "secret names are letters, digits and '-'"); goto out; }
        if (ver) {
            if (!*ver || strchr(ver, '/')) { rc = bad(e, s, "bad version segment"); goto out; }
            for (char *p = ver; *p; p++)
                if (!isalnum((unsigned char)*p)) { rc = bad(e, s, "versions are letters and digits"); goto out; }
            r.version = cb_strdup(ver);
        }
        for (char *p = rest; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != ':' && *p != '[' && *p != ']') {
                rc = bad(e, s, "bad vault name or host"); goto out;
            }
        /* a bare name means the public cloud; "host[:port]" is taken as is (always https) */
        r.host = (strchr(rest, '.') || strchr(rest, ':')) ? cb_strdup(rest) : cb_sprintf("%s.vault.azure.net", rest);
        r.path = cb_strdup(name);
    } else if (strcmp(r.scheme, "vault") == 0) {
        char *slash = strchr(rest, '/');
        if (!slash || slash == rest || !slash[1]) { rc = bad(e, s, "expected vault://<mount>/<path>"); goto out; }
        *slash = 0;
        if (strstr(slash + 1, "..") || strstr(slash + 1, "//") || slash[strlen(slash + 1)] == '/') {
            rc = bad(e, s, "path must not contain '..', '//' or end in '/'"); goto out;
        }
        r.mount = cb_strdup(rest);
        r.path = cb_strdup(slash + 1);
    } else if (strcmp(r.scheme, "env") == 0) {
        if (!*rest || !(isalpha((unsigned char)rest[0]) || rest[0] == '_')) { rc = bad(e, s, "expected env://VARIABLE"); goto out; }
        for (char *p = rest; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_') { rc = bad(e, s, "variable names are letters, digits and '_'"); goto out; }
        r.path = cb_strdup(rest);
    } else if (strcmp(r.scheme, "file") == 0) {
        if (rest[0] != '/') { rc = bad(e, s, "expected file:///absolute/path"); goto out; }
        r.path = cb_strdup(rest);
    } else {
        rc = bad(e, s, "unknown scheme (aws-sm, azure-kv, vault, env, file)");
        goto out;
    }
    if (q && *q) {
        if (strcmp(r.scheme, "aws-sm") != 0 && strcmp(r.scheme, "vault") != 0) {
            rc = bad(e, s, "this scheme takes no query parameters");
            goto out;
        }
        rc = parse_query(s, q, &r, e);
        if (rc) goto out;
        if (r.stage && r.version) { rc = bad(e, s, "give stage or versionId, not both"); goto out; }
    }
out:
    free(rest);
    if (rc) secret_ref_free(&r);
    else *out = r;
    return rc;
}

int secret_value_pick_field(secret_value *v, const char *field, cb_error *e)
{
    if (!field) return 0;
    json_error_t je;
    json_t *root = json_loadb(v->value, v->len, 0, &je);
    if (!root) return cb_fail(e, CB_ERR, CB_K_INVALID, "secret is not JSON, cannot select field '%s'", field);
    json_t *cur = root;
    char *f = cb_strdup(field), *save = NULL;
    for (char *part = strtok_r(f, ".", &save); part && cur; part = strtok_r(NULL, ".", &save))
        cur = json_is_object(cur) ? json_object_get(cur, part) : NULL;
    free(f);
    char *val = NULL;
    if (json_is_string(cur)) val = cb_strdup(json_string_value(cur));
    else if (json_is_integer(cur)) val = cb_sprintf("%lld", (long long)json_integer_value(cur));
    else if (cur && (json_is_object(cur) || json_is_array(cur))) val = json_dumps(cur, JSON_COMPACT);
    json_decref(root);
    if (!val) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "field '%s' not found in secret", field);
    cb_free_secret_n(v->value, v->len + 1);
    v->value = val;
    v->len = strlen(val);
    return 0;
}

int secret_fetch(const char *ref, secret_value *out, cb_error *e)
{
    secret_ref r;
    memset(out, 0, sizeof *out);
    int rc = secret_ref_parse(ref, &r, e);
    if (rc) return rc;
    const secret_provider *p = secret_provider_for(r.scheme);
    if (!p) {
        rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "no provider for scheme %s", r.scheme);
        secret_ref_free(&r);
        return rc;
    }
    void *st = NULL;
    rc = p->open(&st, e);
    if (!rc) rc = p->get(st, &r, out, e);
    if (!rc && r.field) rc = secret_value_pick_field(out, r.field, e);
    if (rc) secret_value_free(out);
    if (st) p->close(st);
    secret_ref_free(&r);
    return rc;
}
