/* HashiCorp Vault provider, KV version 2 secrets engine, over the HTTP API.
 *
 * Authentication, in the order the Vault CLI uses: VAULT_TOKEN, then ~/.vault-token,
 * then AppRole (VAULT_ROLE_ID + VAULT_SECRET_ID or VAULT_SECRET_ID_FILE, mount
 * VAULT_APPROLE_MOUNT, default "approle"). The token's lease is learned at open
 * (login response or lookup-self) and renewed with renew-self once 2/3 of it has
 * passed. With AppRole credentials at hand, a refused renewal or a 403 "permission
 * denied" (expired token) leads to one fresh login and one retry of the request.
 *
 * Staging: KV v2 has no labels, and a read without ?version always returns the
 * latest version. put(pending) therefore writes a new version (check-and-set on the
 * current version, so two writers cannot both win) and marks it in the key's
 * custom_metadata as credbroker_pending_version; promote() clears that marker and
 * records credbroker_current_version. Readers of the latest version see a pending
 * value as soon as it is written: the marker is bookkeeping, not isolation. */
#include "hashicorp_vault.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "http.h"

#define PENDING_KEY "credbroker_pending_version"
#define CURRENT_KEY "credbroker_current_version"

typedef struct vault_state {
    http_client *http;
    char *addr;          /* without trailing '/' */
    char *ns_header;     /* "X-Vault-Namespace: ns" or NULL */
    char *token;         /* secret */
    char *role_id;       /* secret-ish: never logged */
    char *secret_id;     /* secret */
    char *approle_mount;
    int64_t lease_t0_ms; /* when ttl was learned (monotonic) */
    long ttl;            /* seconds; 0 = no expiry known */
    int renewable;
} vault_state;

/* ---------- parsing (untrusted input) ---------- */

/* Overwrites every string in a parsed document before it is freed: the values of a
 * secret must not linger in freed heap. */
static void wipe_json(json_t *j)
{
    if (json_is_string(j)) {
        cb_wipe((void *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) wipe_json(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) wipe_json(v);
    }
}

static json_t *load(const char *body, size_t len)
{
    if (!body || len == 0) return NULL;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Copies a server message as printable ASCII, bounded. */
static void clean_copy(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 1 < n; s++) out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[o] = 0;
}

static int version_gone(json_t *meta, const char **why)
{
    if (!json_is_object(meta)) return 0;
    if (json_is_true(json_object_get(meta, "destroyed"))) { *why = "destroyed"; return 1; }
    const char *dt = json_string_value(json_object_get(meta, "deletion_time"));
    int64_t t;
    /* deletion_time may lie in the future (delete_version_after): still readable */
    if (dt && *dt && (cb_parse_iso8601(dt, &t) != 0 || t <= cb_now())) { *why = "deleted"; return 1; }
    return 0;
}

int vault_error_from_response(long status, const char *body, size_t len, const char *what, cb_error *e)
{
    char first[160] = "";
    int cas = 0;
    const char *gone = NULL;
    long gone_ver = 0;
    json_t *j = load(body, len);
    json_t *errs = j ? json_object_get(j, "errors") : NULL;
    size_t i;
    json_t *it;
    json_array_foreach(errs, i, it) {
        const char *m = json_string_value(it);
        if (!m) continue;
        if (!first[0]) clean_copy(first, sizeof first, m);
        if (strstr(m, "check-and-set parameter did not match")) cas = 1;
    }
    if (status == 404 && j) {
        json_t *meta = json_object_get(json_object_get(j, "data"), "metadata");
        if (version_gone(meta, &gone)) gone_ver = (long)json_integer_value(json_object_get(meta, "version"));
    }
    json_decref(j);
    const char *sep = first[0] ? ": " : "";
    int rc;
    if (status == 400 && cas)
        rc = cb_fail(e, CB_ERR, CB_K_CONFLICT, "vault: %s was changed by another writer (check-and-set did not match)", what);
    else if (status == 401 || status == 403)
        rc = cb_fail(e, CB_ERR, CB_K_DENIED, "vault: access denied to %s (HTTP %ld%s%s)", what, status, sep, first);
    else if (status == 404 && gone)
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "vault: %s version %ld was %s", what, gone_ver, gone);
    else if (status == 404)
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "vault: %s not found (HTTP 404)", what);
    else if (status == 412 || status == 429 || status >= 500)
        rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "vault: unavailable for %s (HTTP %ld%s%s)", what, status, sep, first);
    else
        rc = cb_fail(e, CB_ERR, CB_K_INVALID, "vault: request for %s failed (HTTP %ld%s%s)", what, status, sep, first);
    if (e) e->http_status = (int)status;
    return rc;
}

static int malformed(cb_error *e, const char *what)
{
    return cb_fail(e, CB_ERR, CB_K_INVALID, "vault: malformed %s response", what);
}

int vault_parse_kv_read(const char *body, size_t len, secret_value *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    json_t *j = load(body, len);
    if (!j) return malformed(e, "read");
    int rc = 0;
    json_t *data = json_object_get(j, "data");
    json_t *meta = json_object_get(data, "metadata");
    json_t *dd = json_object_get(data, "data");
    json_t *ver = json_object_get(meta, "version");
    const char *why = NULL;
    if (!json_is_object(data) || !json_is_object(meta) || !json_is_integer(ver) || json_integer_value(ver) < 1) {
        rc = malformed(e, "read");
    } else if (version_gone(meta, &why) || json_is_null(dd)) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "vault: version %lld was %s", (long long)json_integer_value(ver), why ? why : "deleted");
    } else if (!json_is_object(dd)) {
        rc = malformed(e, "read");
    } else {
        json_t *only = json_object_get(dd, "value");
        if (json_object_size(dd) == 1 && json_is_string(only)) {
            out->value = cb_strndup(json_string_value(only), json_string_length(only));
            out->len = json_string_length(only);
        } else {
            out->value = json_dumps(dd, JSON_COMPACT);
            if (!out->value) rc = malformed(e, "read");
            else out->len = strlen(out->value);
        }
        if (!rc) {
            out->version = cb_sprintf("%lld", (long long)json_integer_value(ver));
            const char *ct = json_string_value(json_object_get(meta, "created_time"));
            int64_t t;
            if (ct && cb_parse_iso8601(ct, &t) == 0) out->created = t;
        }
    }
    wipe_json(dd);
    json_decref(j);
    if (rc) secret_value_free(out);
    return rc;
}

int vault_parse_kv_write(const char *body, size_t len, char **version, cb_error *e)
{
    *version = NULL;
    json_t *j = load(body, len);
    json_t *v = json_object_get(json_object_get(j, "data"), "version");
    int rc = 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1) rc = malformed(e, "write");
    else *version = cb_sprintf("%lld", (long long)json_integer_value(v));
    json_decref(j);
    return rc;
}

/* Orders version entries numerically ("10" after "9"). */
static void sort_versions(json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = 1; i < n; i++) {
        for (size_t k = i; k > 0; k--) {
            json_t *a = json_array_get(arr, k - 1), *b = json_array_get(arr, k);
            if (json_integer_value(json_object_get(a, "n")) <= json_integer_value(json_object_get(b, "n"))) break;
            json_incref(a);
            json_array_set(arr, k - 1, b);
            json_array_set_new(arr, k, a);
        }
    }
    for (size_t i = 0; i < n; i++) json_object_del(json_array_get(arr, i), "n");
}

static long num_of(const char *s)
{
    if (!s || !*s || strlen(s) > 9) return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    return strtol(s, NULL, 10);
}

int vault_parse_metadata(const char *body, size_t len, long *current, json_t **custom, json_t **out, cb_error *e)
{
    *current = 0;
    if (custom) *custom = NULL;
    if (out) *out = NULL;
    json_t *j = load(body, len);
    json_t *data = json_object_get(j, "data");
    json_t *cv = json_object_get(data, "current_version");
    json_t *versions = json_object_get(data, "versions");
    json_t *cm = json_object_get(data, "custom_metadata");
    if (!json_is_object(data) || !json_is_integer(cv) || json_integer_value(cv) < 0 ||
        json_integer_value(cv) > 999999999 || !(json_is_object(versions) || json_is_null(versions) || !versions) ||
        !(json_is_object(cm) || json_is_null(cm) || !cm)) {
        json_decref(j);
        return malformed(e, "metadata");
    }
    /* custom_metadata values are strings in Vault; anything else is dropped */
    json_t *cmo = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(cm, k, v)
        if (json_is_string(v)) json_object_set(cmo, k, v);
    *current = (long)json_integer_value(cv);
    if (out) {
        json_t *arr = json_array();
        json_object_foreach(versions, k, v) {
            long n = num_of(k);
            if (n < 1 || !json_is_object(v)) continue;
            const char *why = NULL;
            int gone = version_gone(v, &why);
            const char *ct = json_string_value(json_object_get(v, "created_time"));
            const char *dt = json_string_value(json_object_get(v, "deletion_time"));
            json_t *stages = json_array();
            if (n == *current) json_array_append_new(stages, json_string("latest"));
            const char *pv = json_string_value(json_object_get(cmo, PENDING_KEY));
            const char *cur = json_string_value(json_object_get(cmo, CURRENT_KEY));
            if (pv && num_of(pv) == n) json_array_append_new(stages, json_string("pending"));
            if (cur && num_of(cur) == n) json_array_append_new(stages, json_string("current"));
            json_array_append_new(arr, json_pack("{s:I,s:s,s:s?,s:s?,s:b,s:b,s:o}", "n", (json_int_t)n,
                                                 "version", k, "created", ct, "deletion_time", (dt && *dt) ? dt : NULL,
                                                 "deleted", gone && why && strcmp(why, "deleted") == 0,
                                                 "destroyed", json_is_true(json_object_get(v, "destroyed")),
                                                 "stages", stages));
        }
        sort_versions(arr);
        json_t *o = json_pack("{s:s,s:I,s:o}", "provider", "vault", "current_version", (json_int_t)*current,
                              "versions", arr);
        const char *ut = json_string_value(json_object_get(data, "updated_time"));
        const char *ct = json_string_value(json_object_get(data, "created_time"));
        json_t *ov = json_object_get(data, "oldest_version");
        if (ct) json_object_set_new(o, "created", json_string(ct));
        if (ut) json_object_set_new(o, "updated", json_string(ut));
        if (json_is_integer(ov)) json_object_set(o, "oldest_version", ov);
        json_object_set(o, "custom_metadata", cmo);
        *out = o;
    }
    if (custom) *custom = cmo;
    else json_decref(cmo);
    json_decref(j);
    return 0;
}

int vault_parse_auth(const char *body, size_t len, char **token, long *ttl, int *renewable, cb_error *e)
{
    if (token) *token = NULL;
    json_t *j = load(body, len);
    json_t *auth = json_object_get(j, "auth");
    json_t *tok = json_object_get(auth, "client_token");
    json_t *ld = json_object_get(auth, "lease_duration");
    int rc = 0;
    if (!json_is_object(auth) || (token && (!json_is_string(tok) || json_string_length(tok) == 0)) ||
        (ld && !json_is_integer(ld)) || json_integer_value(ld) < 0) {
        rc = malformed(e, "auth");
    } else {
        if (token) *token = cb_strndup(json_string_value(tok), json_string_length(tok));
        *ttl = (long)json_integer_value(ld);
        *renewable = json_is_true(json_object_get(auth, "renewable"));
    }
    wipe_json(auth);
    json_decref(j);
    return rc;
}

int vault_parse_lookup(const char *body, size_t len, long *ttl, int *renewable, cb_error *e)
{
    json_t *j = load(body, len);
    json_t *data = json_object_get(j, "data");
    json_t *t = json_object_get(data, "ttl");
    int rc = 0;
    if (!json_is_object(data) || !json_is_integer(t) || json_integer_value(t) < 0) {
        rc = malformed(e, "lookup-self");
    } else {
        *ttl = (long)json_integer_value(t);
        *renewable = json_is_true(json_object_get(data, "renewable"));
    }
    wipe_json(data); /* carries the token id */
    json_decref(j);
    return rc;
}

/* ---------- transport and token lifecycle ---------- */

static int vreq(vault_state *s, const char *method, const char *path, const char *body, int with_token,
                http_response *resp, cb_error *e)
{
    char *url = cb_sprintf("%s/v1/%s", s->addr, path);
    char *tokh = (with_token && s->token) ? cb_sprintf("X-Vault-Token: %s", s->token) : NULL;
    const char *hdrs[6];
    size_t n = 0;
    if (tokh) hdrs[n++] = tokh;
    if (s->ns_header) hdrs[n++] = s->ns_header;
    hdrs[n++] = "X-Vault-Request: true";
    if (body) hdrs[n++] = "Content-Type: application/json";
    hdrs[n] = NULL;
    http_request rq = {.method = method, .url = url, .headers = hdrs, .body = body, .body_len = body ? strlen(body) : 0};
    int rc = http_do(s->http, &rq, resp, e);
    cb_free_secret(tokh);
    free(url);
    return rc;
}

static int approle_login(vault_state *s, cb_error *e)
{
    char *m = cb_url_encode(s->approle_mount, 1);
    char *path = cb_sprintf("auth/%s/login", m);
    free(m);
    json_t *req = json_pack("{s:s,s:s}", "role_id", s->role_id, "secret_id", s->secret_id);
    if (!req) {
        free(path);
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "vault: AppRole role_id or secret_id is not valid UTF-8");
    }
    char *body = json_dumps(req, JSON_COMPACT);
    wipe_json(req);
    json_decref(req);
    http_response r;
    int rc = vreq(s, "POST", path, body, 0, &r, e);
    cb_free_secret(body);
    if (!rc) {
        if (r.status != 200) {
            rc = vault_error_from_response(r.status, r.body.data, r.body.len, "AppRole login", e);
        } else {
            char *tok = NULL;
            long ttl = 0;
            int ren = 0;
            rc = vault_parse_auth(r.body.data, r.body.len, &tok, &ttl, &ren, e);
            if (!rc) {
                cb_free_secret(s->token);
                s->token = tok;
                s->ttl = ttl;
                s->renewable = ren;
                s->lease_t0_ms = cb_now_ms();
                LOG_INFO("vault: AppRole login ok (lease %ld s%s)", ttl, ren ? ", renewable" : "");
            }
        }
    }
    http_response_free(&r);
    free(path);
    return rc;
}

/* Renews the token once 2/3 of its lease has passed; a refused renewal falls back to a
 * fresh AppRole login when possible. Failures here are not fatal: the request that
 * follows reports the real outcome. */
static void maybe_renew(vault_state *s)
{
    if (s->ttl <= 0 || cb_now_ms() - s->lease_t0_ms < s->ttl * 2000 / 3) return;
    cb_error e = {0};
    if (s->renewable) {
        http_response r;
        if (vreq(s, "POST", "auth/token/renew-self", "{}", 1, &r, &e) == 0 && r.status == 200) {
            long ttl = 0;
            int ren = 0;
            if (vault_parse_auth(r.body.data, r.body.len, NULL, &ttl, &ren, &e) == 0) {
                s->ttl = ttl;
                s->renewable = ren;
                s->lease_t0_ms = cb_now_ms();
                LOG_INFO("vault: token renewed (lease %ld s)", ttl);
                http_response_free(&r);
                return;
            }
        }
        LOG_INFO("vault: token renewal refused (HTTP %ld)", r.status);
        http_response_free(&r);
        s->renewable = 0; /* do not ask again on every request */
    }
    if (s->role_id) {
        if (approle_login(s, &e)) LOG_WARN("%s", e.msg);
    } else {
        s->ttl = 0; /* nothing more to do; avoid retrying on every request */
    }
}

static int is_permission_denied(const http_response *r)
{
    return r->status == 403 && r->body.data && strstr(r->body.data, "permission denied") != NULL;
}

/* One API call with the token lifecycle applied. */
static int vcall(vault_state *s, const char *method, const char *path, const char *body, http_response *resp,
                 cb_error *e)
{
    maybe_renew(s);
    int rc = vreq(s, method, path, body, 1, resp, e);
    if (rc || !s->role_id || !is_permission_denied(resp)) return rc;
    http_response_free(resp);
    LOG_INFO("vault: token refused, logging in again with AppRole");
    rc = approle_login(s, e);
    if (rc) return rc;
    return vreq(s, method, path, body, 1, resp, e);
}

/* ---------- provider ---------- */

static char *read_small_file(const char *path, cb_error *e, const char *what)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cb_fail(e, CB_ERR, CB_K_INVALID, "vault: cannot read %s: %s", what, strerror(errno));
        return NULL;
    }
    char *s = cb_read_stream_secret(fd, 64 * 1024, e);
    close(fd);
    if (!s) return NULL;
    /* trim surrounding whitespace (the CLI writes the token without a newline, editors add one) */
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    size_t lead = 0;
    while (s[lead] && isspace((unsigned char)s[lead])) lead++;
    if (lead) memmove(s, s + lead, n - lead + 1);
    return s;
}

static void vault_close(void *state)
{
    vault_state *s = state;
    if (!s) return;
    http_client_free(s->http);
    free(s->addr);
    free(s->ns_header);
    cb_free_secret(s->token);
    cb_free_secret(s->role_id);
    cb_free_secret(s->secret_id);
    free(s->approle_mount);
    free(s);
}

static const char *env(const char *n)
{
    const char *v = getenv(n);
    return (v && *v) ? v : NULL;
}

static int vault_open(void **state, cb_error *e)
{
    *state = NULL;
    vault_state *s = cb_calloc(1, sizeof *s);
    const char *addr = env("VAULT_ADDR") ? env("VAULT_ADDR") : "https://127.0.0.1:8200";
    if (strncmp(addr, "http://", 7) != 0 && strncmp(addr, "https://", 8) != 0) {
        free(s);
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "vault: VAULT_ADDR must start with http:// or https://");
    }
    s->addr = cb_strdup(addr);
    for (size_t n = strlen(s->addr); n > 0 && s->addr[n - 1] == '/'; n--) s->addr[n - 1] = 0;
    if (env("VAULT_NAMESPACE")) {
        const char *ns = env("VAULT_NAMESPACE");
        for (const char *p = ns; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                vault_close(s);
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "vault: VAULT_NAMESPACE contains control characters");
            }
        s->ns_header = cb_sprintf("X-Vault-Namespace: %s", ns);
    }
    http_options ho = {.ca_file = env("VAULT_CACERT")};
    s->http = http_client_new(&ho, e);
    if (!s->http) {
        vault_close(s);
        return e ? e->code : CB_ERR;
    }
    s->approle_mount = cb_strdup(env("VAULT_APPROLE_MOUNT") ? env("VAULT_APPROLE_MOUNT") : "approle");
    if (env("VAULT_ROLE_ID")) {
        s->role_id = cb_strdup(env("VAULT_ROLE_ID"));
        if (env("VAULT_SECRET_ID")) s->secret_id = cb_strdup(env("VAULT_SECRET_ID"));
        else if (env("VAULT_SECRET_ID_FILE")) s->secret_id = read_small_file(env("VAULT_SECRET_ID_FILE"), e, "VAULT_SECRET_ID_FILE");
        if (!s->secret_id) {
            if (!env("VAULT_SECRET_ID_FILE")) cb_fail(e, CB_EUSAGE, CB_K_INVALID, "vault: VAULT_ROLE_ID is set but neither VAULT_SECRET_ID nor VAULT_SECRET_ID_FILE");
            vault_close(s);
            return e ? e->code : CB_ERR;
        }
    }
    int rc = 0;
    if (env("VAULT_TOKEN")) {
        s->token = cb_strdup(env("VAULT_TOKEN"));
    } else if (env("HOME")) {
        char *p = cb_sprintf("%s/.vault-token", env("HOME"));
        if (access(p, F_OK) == 0) s->token = read_small_file(p, NULL, "~/.vault-token");
        free(p);
        if (s->token && !*s->token) { free(s->token); s->token = NULL; }
    }
    if (s->token) {
        http_response r;
        rc = vreq(s, "GET", "auth/token/lookup-self", NULL, 1, &r, e);
        if (!rc && r.status == 200) {
            if (vault_parse_lookup(r.body.data, r.body.len, &s->ttl, &s->renewable, NULL) == 0) s->lease_t0_ms = cb_now_ms();
        } else if (!rc && is_permission_denied(&r) && s->role_id) {
            rc = approle_login(s, e);
        } else if (!rc) {
            /* a token without lookup-self rights still works; its lease is then unknown */
            LOG_INFO("vault: token lookup-self returned HTTP %ld; lease unknown", r.status);
        }
        http_response_free(&r);
    } else if (s->role_id) {
        rc = approle_login(s, e);
    } else {
        rc = cb_fail(e, CB_ERR, CB_K_DENIED,
                     "vault: no credentials: set VAULT_TOKEN, write ~/.vault-token, or set VAULT_ROLE_ID and VAULT_SECRET_ID[_FILE]");
    }
    if (rc) {
        vault_close(s);
        return rc;
    }
    *state = s;
    return 0;
}

/* "{mount}/{kind}/{path}" with both parts percent-encoded (slashes kept). */
static char *kv_path(const secret_ref *ref, const char *kind)
{
    char *m = cb_url_encode(ref->mount, 1), *p = cb_url_encode(ref->path, 1);
    char *out = cb_sprintf("%s/%s/%s", m, kind, p);
    free(m);
    free(p);
    return out;
}

static int check_ref(const secret_ref *ref, cb_error *e)
{
    if (!ref->mount || !ref->path || !*ref->mount || !*ref->path)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "vault: reference needs vault://<mount>/<path>");
    return 0;
}

static int vault_get(void *state, const secret_ref *ref, secret_value *out, cb_error *e)
{
    vault_state *s = state;
    memset(out, 0, sizeof *out);
    if (check_ref(ref, e)) return e ? e->code : CB_EUSAGE;
    char *p = kv_path(ref, "data");
    if (ref->version) {
        char *q = cb_sprintf("%s?version=%s", p, ref->version);
        free(p);
        p = q;
    }
    char what[300];
    snprintf(what, sizeof what, "%s/%s", ref->mount, ref->path);
    http_response r;
    int rc = vcall(s, "GET", p, NULL, &r, e);
    if (!rc) {
        if (r.status == 200) rc = vault_parse_kv_read(r.body.data, r.body.len, out, e);
        else rc = vault_error_from_response(r.status, r.body.data, r.body.len, what, e);
        if (rc && e && e->kind == CB_K_INVALID && r.status == 200)
            cb_fail(e, CB_ERR, CB_K_INVALID, "vault: malformed read response for %s", what);
    }
    http_response_free(&r);
    free(p);
    return rc;
}

/* Reads metadata; a missing key gives current 0 and an empty custom map. */
static int read_metadata(vault_state *s, const secret_ref *ref, long *current, json_t **custom, json_t **out,
                         int missing_ok, cb_error *e)
{
    char *p = kv_path(ref, "metadata");
    char what[300];
    snprintf(what, sizeof what, "%s/%s", ref->mount, ref->path);
    http_response r;
    int rc = vcall(s, "GET", p, NULL, &r, e);
    if (!rc) {
        if (r.status == 200) {
            rc = vault_parse_metadata(r.body.data, r.body.len, current, custom, out, e);
        } else if (r.status == 404 && missing_ok) {
            *current = 0;
            if (custom) *custom = json_object();
            if (out) *out = NULL;
        } else {
            rc = vault_error_from_response(r.status, r.body.data, r.body.len, what, e);
        }
    }
    http_response_free(&r);
    free(p);
    return rc;
}

static int write_custom_metadata(vault_state *s, const secret_ref *ref, json_t *custom, cb_error *e)
{
    char *p = kv_path(ref, "metadata");
    json_t *req = json_pack("{s:O}", "custom_metadata", custom);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char what[300];
    snprintf(what, sizeof what, "%s/%s metadata", ref->mount, ref->path);
    http_response r;
    int rc = vcall(s, "POST", p, body, &r, e);
    if (!rc && r.status != 200 && r.status != 204) rc = vault_error_from_response(r.status, r.body.data, r.body.len, what, e);
    http_response_free(&r);
    free(body);
    free(p);
    return rc;
}

static int vault_put(void *state, const secret_ref *ref, const char *value, const char *stage, const char *token,
                     char **version_out, cb_error *e)
{
    vault_state *s = state;
    (void)token; /* KV v2 has no idempotency token; check-and-set gives the exactly-once guarantee */
    *version_out = NULL;
    if (check_ref(ref, e)) return e ? e->code : CB_EUSAGE;
    if (stage && strcmp(stage, SECRET_STAGE_PENDING) != 0)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "vault: unknown stage (only pending is supported)");
    long current = 0;
    json_t *custom = NULL;
    int rc = read_metadata(s, ref, &current, &custom, NULL, 1, e);
    if (rc) return rc;

    /* A JSON object is written as the secret's fields; anything else as {"value": ...}. */
    json_t *obj = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(obj)) {
        if (obj) { wipe_json(obj); json_decref(obj); }
        obj = json_pack("{s:s}", "value", value);
        if (!obj) {
            json_decref(custom);
            return cb_fail(e, CB_ERR, CB_K_INVALID, "vault: secret value is not valid UTF-8");
        }
    }
    json_t *req = json_pack("{s:{s:I},s:o}", "options", "cas", (json_int_t)current, "data", obj);
    char *body = json_dumps(req, JSON_COMPACT);
    wipe_json(req);
    json_decref(req);
    char *p = kv_path(ref, "data");
    char what[300];
    snprintf(what, sizeof what, "%s/%s", ref->mount, ref->path);
    http_response r;
    rc = vcall(s, "POST", p, body, &r, e);
    cb_free_secret(body);
    free(p);
    char *ver = NULL;
    if (!rc) {
        if (r.status == 200) rc = vault_parse_kv_write(r.body.data, r.body.len, &ver, e);
        else rc = vault_error_from_response(r.status, r.body.data, r.body.len, what, e);
    }
    http_response_free(&r);
    if (!rc) {
        int touch = 0;
        if (stage) {
            json_object_set_new(custom, PENDING_KEY, json_string(ver));
            touch = 1;
        } else if (json_object_get(custom, PENDING_KEY)) {
            /* a direct write supersedes an earlier pending one */
            json_object_del(custom, PENDING_KEY);
            json_object_set_new(custom, CURRENT_KEY, json_string(ver));
            touch = 1;
        }
        if (touch && (rc = write_custom_metadata(s, ref, custom, e)) != 0)
            cb_error_prefix(e, "vault: version %s was written but its marker was not", ver);
    }
    json_decref(custom);
    if (rc) free(ver);
    else *version_out = ver;
    return rc;
}

static int vault_promote(void *state, const secret_ref *ref, const char *version, cb_error *e)
{
    vault_state *s = state;
    if (check_ref(ref, e)) return e ? e->code : CB_EUSAGE;
    long want = num_of(version);
    if (want < 1) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "vault: version must be a positive integer");
    long current = 0;
    json_t *custom = NULL, *desc = NULL;
    int rc = read_metadata(s, ref, &current, &custom, &desc, 0, e);
    if (rc) return rc;
    json_t *found = NULL, *it;
    size_t i;
    json_array_foreach(json_object_get(desc, "versions"), i, it)
        if (num_of(json_string_value(json_object_get(it, "version"))) == want) found = it;
    if (!found || json_is_true(json_object_get(found, "deleted")) || json_is_true(json_object_get(found, "destroyed"))) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "vault: %s/%s has no live version %ld", ref->mount, ref->path, want);
    } else if (want != current) {
        /* KV v2 readers always get the latest version; promoting an older one would be a lie */
        rc = cb_fail(e, CB_ERR, CB_K_CONFLICT, "vault: %s/%s version %ld is not the latest (%ld)", ref->mount, ref->path,
                     want, current);
    } else {
        json_object_del(custom, PENDING_KEY);
        json_object_set_new(custom, CURRENT_KEY, json_sprintf("%ld", want));
        rc = write_custom_metadata(s, ref, custom, e);
    }
    json_decref(custom);
    json_decref(desc);
    return rc;
}

static int vault_describe(void *state, const secret_ref *ref, json_t **out, cb_error *e)
{
    vault_state *s = state;
    *out = NULL;
    if (check_ref(ref, e)) return e ? e->code : CB_EUSAGE;
    long current = 0;
    int rc = read_metadata(s, ref, &current, NULL, out, 0, e);
    if (!rc) json_object_set_new(*out, "ref", json_sprintf("vault://%s/%s", ref->mount, ref->path));
    return rc;
}

const secret_provider vault_provider = {
    .scheme = "vault",
    .name = "HashiCorp Vault (KV v2)",
    .open = vault_open,
    .get = vault_get,
    .put = vault_put,
    .promote = vault_promote,
    .describe = vault_describe,
    .close = vault_close,
};
