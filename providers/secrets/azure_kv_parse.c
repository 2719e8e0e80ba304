/* Parsers for what Azure Key Vault and Entra ID send back: the 401 challenge, secret
 * bundles, version listings, token responses and error bodies. All untrusted input;
 * fuzzed by tests/fuzz/fuzz_azure_challenge.c and fuzz_azure_response.c. */
#include "azure_key_vault.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHALLENGE 8192

void azkv_challenge_free(azkv_challenge *c)
{
    if (!c) return;
    free(c->authority);
    free(c->tenant);
    free(c->scope);
    memset(c, 0, sizeof *c);
}

static int bad_challenge(cb_error *e, const char *why)
{
    return cb_fail(e, CB_ERR, CB_K_DENIED, "azure-kv: unusable WWW-Authenticate challenge: %s", why);
}

/* A printable URL without spaces or quotes; https only (tokens never go over http). */
static int https_url_ok(const char *u)
{
    if (strncmp(u, "https://", 8) != 0 || !u[8] || u[8] == '/') return 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') return 0;
    return 1;
}

/* Tenant ids are GUIDs or domain names; nothing that could alter the token URL. */
static int tenant_ok(const char *t, size_t n)
{
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_') return 0;
    }
    return !(n == 1 && t[0] == '.') && !(n == 2 && t[0] == '.' && t[1] == '.');
}

int azkv_parse_challenge(const char *header, azkv_challenge *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    if (!header) return bad_challenge(e, "missing");
    size_t hl = strlen(header);
    if (hl > MAX_CHALLENGE) return bad_challenge(e, "too long");
    const char *p = header;
    while (*p == ' ' || *p == '\t') p++;
    const char *scheme = p;
    while (*p && *p != ' ' && *p != '\t') p++;
    if ((size_t)(p - scheme) != 6 || strncasecmp(scheme, "Bearer", 6) != 0)
        return bad_challenge(e, "scheme is not Bearer");
    char *auth = NULL, *resource = NULL, *scope = NULL;
    int rc = 0;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        const char *k = p;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '-') p++;
        size_t kn = (size_t)(p - k);
        while (*p == ' ' || *p == '\t') p++;
        if (kn == 0 || *p != '=') { rc = bad_challenge(e, "expected key=\"value\""); goto out; }
        p++;
        while (*p == ' ' || *p == '\t') p++;
        const char *v;
        size_t vn;
        if (*p == '"') {
            v = ++p;
            while (*p && *p != '"') p++;
            if (*p != '"') { rc = bad_challenge(e, "unterminated quoted value"); goto out; }
            vn = (size_t)(p - v);
            p++;
        } else {
            v = p;
            while (*p && *p != ',' && *p != ' ' && *p != '\t') p++;
            vn = (size_t)(p - v);
        }
        char **slot = NULL;
        if ((kn == 13 && strncasecmp(k, "authorization", 13) == 0) ||
            (kn == 17 && (strncasecmp(k, "authorization_uri", 17) == 0 || strncasecmp(k, "authorization_url", 17) == 0)))
            slot = &auth;
        else if (kn == 8 && strncasecmp(k, "resource", 8) == 0)
            slot = &resource;
        else if (kn == 5 && strncasecmp(k, "scope", 5) == 0)
            slot = &scope;
        if (slot && !*slot) *slot = cb_strndup(v, vn); /* first occurrence wins */
    }
    if (!auth) { rc = bad_challenge(e, "no authorization URI"); goto out; }
    if (!https_url_ok(auth)) { rc = bad_challenge(e, "authorization URI is not an https URL"); goto out; }
    {
        const char *path = strchr(auth + 8, '/');
        if (!path) { rc = bad_challenge(e, "authorization URI has no tenant"); goto out; }
        path++;
        size_t tn = strcspn(path, "/?#");
        if (!tenant_ok(path, tn)) { rc = bad_challenge(e, "authorization URI has no valid tenant"); goto out; }
        out->tenant = cb_strndup(path, tn);
    }
    /* Like the SDKs: resource + "/.default" when a resource is given, else scope. */
    if (resource && *resource) {
        size_t rn = strlen(resource);
        while (rn > 0 && resource[rn - 1] == '/') rn--;
        out->scope = cb_sprintf("%.*s/.default", (int)rn, resource);
    } else if (scope && *scope) {
        out->scope = cb_strdup(scope);
    } else {
        rc = bad_challenge(e, "neither resource nor scope");
        goto out;
    }
    if (!https_url_ok(out->scope) || strlen(out->scope) > 512) {
        rc = bad_challenge(e, "resource/scope is not an https URL");
        goto out;
    }
    out->authority = auth;
    auth = NULL;
out:
    free(auth);
    free(resource);
    free(scope);
    if (rc) azkv_challenge_free(out);
    return rc;
}

/* Copies an untrusted message for an error line: printable ASCII, bounded. */
static void clean_copy(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    dst[j] = 0;
}

/* The version is the last path segment of an id URL; letters and digits only. */
static char *version_from_id(const char *id)
{
    if (!id) return NULL;
    size_t n = strlen(id);
    while (n > 0 && id[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && id[s - 1] != '/') s--;
    if (s == n || n - s > 64) return NULL;
    for (size_t i = s; i < n; i++)
        if (!isalnum((unsigned char)id[i])) return NULL;
    return cb_strndup(id + s, n - s);
}

static json_t *load_object(const char *body, size_t len, const char *what, cb_error *e)
{
    json_error_t je;
    json_t *root = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!root) {
        cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: %s: response is not valid JSON (%zu bytes)", what, len);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: %s: response is not a JSON object", what);
        return NULL;
    }
    return root;
}

int azkv_parse_bundle(const char *body, size_t len, secret_value *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    json_t *root = load_object(body, len, "secret", e);
    if (!root) return e ? e->code : CB_ERR;
    json_t *val = json_object_get(root, "value");
    if (!json_is_string(val)) {
        json_decref(root);
        return cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: secret response has no string 'value'");
    }
    out->len = json_string_length(val);
    out->value = cb_malloc(out->len + 1);
    memcpy(out->value, json_string_value(val), out->len);
    out->value[out->len] = 0;
    out->version = version_from_id(json_string_value(json_object_get(root, "id")));
    json_t *attrs = json_object_get(root, "attributes");
    json_t *created = json_object_get(attrs, "created");
    if (json_is_integer(created)) out->created = (int64_t)json_integer_value(created);
    json_t *stage = json_object_get(json_object_get(root, "tags"), "credbroker-stage");
    if (json_is_string(stage)) {
        char tmp[64];
        clean_copy(tmp, sizeof tmp, json_string_value(stage));
        out->stages = cb_strdup(tmp);
    }
    /* jansson frees its copy without wiping; wipe the value string in place first */
    cb_wipe((void *)json_string_value(val), json_string_length(val));
    json_decref(root);
    return 0;
}

/* A JSON number or a numeric string (IMDS sends strings); -1 when absent or malformed. */
static int64_t num_or_string(json_t *v)
{
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_real(v)) return (int64_t)json_real_value(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (!*s) return -1;
        long long n = strtoll(s, &end, 10);
        if (*end || n < 0) return -1;
        return (int64_t)n;
    }
    return -1;
}

int azkv_parse_token(const char *body, size_t len, int64_t now, char **token, int64_t *expires, cb_error *e)
{
    *token = NULL;
    *expires = 0;
    json_t *root = load_object(body, len, "token endpoint", e);
    if (!root) return e ? e->code : CB_ERR;
    json_t *at = json_object_get(root, "access_token");
    const char *tt = json_string_value(json_object_get(root, "token_type"));
    int rc = 0;
    if (!json_is_string(at) || json_string_length(at) == 0 || json_string_length(at) > 16384) {
        rc = cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: token response has no access_token");
    } else if (tt && strcasecmp(tt, "Bearer") != 0) {
        rc = cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: token type is not Bearer");
    } else {
        const char *s = json_string_value(at);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            if (*p <= 0x20 || *p >= 0x7f) {
                rc = cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: access_token has invalid characters");
                break;
            }
        if (!rc) {
            /* expires_in is relative and immune to clock skew; expires_on is absolute */
            int64_t in = num_or_string(json_object_get(root, "expires_in"));
            int64_t on = num_or_string(json_object_get(root, "expires_on"));
            if (in >= 0 && in < 100L * 86400) *expires = now + in;
            else if (on > 0) *expires = on;
            else *expires = now + 300; /* unknown: assume short-lived */
            *token = cb_strdup(s);
        }
    }
    if (json_is_string(at)) cb_wipe((void *)json_string_value(at), json_string_length(at));
    json_decref(root);
    return rc;
}

int azkv_map_error(long status, const char *body, size_t len, const char *what, cb_error *e)
{
    char code[64] = "", msg[240] = "";
    json_error_t je;
    json_t *root = body && len ? json_loadb(body, len, 0, &je) : NULL;
    json_t *err = json_object_get(root, "error");
    if (json_is_object(err)) {
        clean_copy(code, sizeof code, json_string_value(json_object_get(err, "code")));
        clean_copy(msg, sizeof msg, json_string_value(json_object_get(err, "message")));
    } else if (json_is_string(err)) { /* Entra ID: {"error":"invalid_client","error_description":"AADSTS..."} */
        clean_copy(code, sizeof code, json_string_value(err));
        clean_copy(msg, sizeof msg, json_string_value(json_object_get(root, "error_description")));
    }
    json_decref(root);
    int kind;
    if (status == 404 || strcmp(code, "SecretNotFound") == 0) kind = CB_K_NOTFOUND;
    else if (status == 401 || status == 403) kind = CB_K_DENIED;
    else if (status == 429 || status >= 500) kind = CB_K_UNAVAILABLE;
    else if (status == 409) kind = CB_K_CONFLICT;
    else kind = CB_K_INVALID;
    int rc = cb_fail(e, CB_ERR, kind, "azure-kv: %s: HTTP %ld%s%s%s%s", what, status, code[0] ? " " : "", code,
                     msg[0] ? ": " : "", msg);
    if (e) e->http_status = (int)status;
    return rc;
}

int azkv_parse_versions_page(const char *body, size_t len, json_t *arr, char **next, cb_error *e)
{
    *next = NULL;
    json_t *root = load_object(body, len, "versions", e);
    if (!root) return e ? e->code : CB_ERR;
    json_t *items = json_object_get(root, "value");
    if (!json_is_array(items)) {
        json_decref(root);
        return cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: versions response has no 'value' array");
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (!json_is_object(it)) continue;
        char *ver = version_from_id(json_string_value(json_object_get(it, "id")));
        if (!ver) continue;
        json_t *o = json_object();
        json_object_set_new(o, "version", json_string(ver));
        free(ver);
        json_object_set(o, "id", json_object_get(it, "id"));
        json_t *a = json_object_get(it, "attributes");
        json_t *en = json_object_get(a, "enabled");
        json_object_set_new(o, "enabled", json_boolean(!json_is_false(en)));
        json_t *cr = json_object_get(a, "created"), *up = json_object_get(a, "updated");
        json_object_set_new(o, "created", json_integer(json_is_integer(cr) ? json_integer_value(cr) : 0));
        json_object_set_new(o, "updated", json_integer(json_is_integer(up) ? json_integer_value(up) : 0));
        json_t *ct = json_object_get(it, "contentType");
        if (json_is_string(ct)) json_object_set(o, "contentType", ct);
        json_t *tags = json_object_get(it, "tags");
        json_object_set_new(o, "tags", json_is_object(tags) ? json_deep_copy(tags) : json_object());
        json_array_append_new(arr, o);
    }
    const char *nl = json_string_value(json_object_get(root, "nextLink"));
    if (nl && *nl) *next = cb_strdup(nl);
    json_decref(root);
    return 0;
}
