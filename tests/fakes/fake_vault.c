/* A protocol-faithful fake HashiCorp Vault for tests (Debian ships no Vault server):
 * sys/health, AppRole login, token lookup-self/renew-self/revoke-self, and the KV
 * version 2 engine (data, metadata, delete/undelete/destroy, LIST) with Vault's
 * response envelope and error bodies. Plain HTTP unless --cert/--key.
 *
 *   fake_vault --port P [--root-token T] [--role-id R --secret-id S] [--token-ttl SEC]
 *              [--no-renew] [--mount NAME]... [--cert F --key F]
 *              [--fail-first N STATUS] [--retry-after SEC] [--delay-ms MS]
 *              [--truncate] [--non-json] [--sealed] [--seed MOUNT/PATH JSON]...
 * Fault flags apply to the secrets engines only (not auth/ or sys/health), except
 * --sealed which, like a sealed Vault, refuses everything.
 * Each request is logged to stderr as "METHOD /path -> status" (never a token).
 * Exits on SIGTERM or SIGINT. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
    int port;
    const char *root_token, *role_id, *secret_id;
    long token_ttl;
    int no_renew;
    const char *mounts[16];
    int nmounts;
    int fail_first, fail_status;
    long retry_after, delay_ms;
    int truncate, non_json, sealed;
} cfg = {.token_ttl = 3600};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *store;   /* "ns|mount" -> { path -> entry } */
static json_t *tokens;  /* token -> {expire_ms, ttl, renewable, accessor, policies, creation} */
static int nrequests;

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* RFC 3339 with nanoseconds, as Vault prints times. */
static json_t *time_str(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[64];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    return json_sprintf("%s.%09ldZ", b, (long)(ms % 1000) * 1000000L);
}

static void rand_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    RAND_bytes(b, (int)nbytes);
    for (size_t i = 0; i < nbytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static json_t *uuid(void)
{
    char h[33];
    rand_hex(h, 16);
    return json_sprintf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

typedef struct reply {
    int status;
    json_t *body;  /* NULL = no body (204) */
    const char *raw_type;
    char *raw;     /* non-JSON body */
} reply;

static reply errors(int status, const char *msg)
{
    json_t *arr = json_array();
    if (msg) json_array_append_new(arr, json_string(msg));
    return (reply){status, json_pack("{s:o}", "errors", arr), NULL, NULL};
}

/* The envelope every logical response carries. */
static json_t *envelope(json_t *data, json_t *auth, const char *mount_type)
{
    json_t *o = json_pack("{s:o,s:s,s:b,s:i,s:o,s:n,s:n,s:o}", "request_id", uuid(), "lease_id", "", "renewable", 0,
                          "lease_duration", 0, "data", data ? data : json_null(), "wrap_info", "warnings", "auth",
                          auth ? auth : json_null());
    json_object_set_new(o, "mount_type", json_string(mount_type ? mount_type : ""));
    return o;
}

static reply ok(json_t *data, const char *mount_type) { return (reply){200, envelope(data, NULL, mount_type), NULL, NULL}; }
static reply no_content(void) { return (reply){204, NULL, NULL, NULL}; }
static reply not_found(void) { return errors(404, NULL); }
static reply denied(void) { return errors(403, "permission denied"); }

/* ---------- tokens ---------- */

static const char *issue_token(long ttl, int renewable, const char *policy)
{
    char h[25];
    rand_hex(h, 12);
    char acc[25];
    rand_hex(acc, 12);
    char tok[40];
    snprintf(tok, sizeof tok, "hvs.%s", h);
    json_object_set_new(tokens, tok,
                        json_pack("{s:I,s:I,s:b,s:s,s:[ss],s:I,s:I}", "expire_ms", (json_int_t)(ttl ? now_ms() + ttl * 1000 : 0),
                                  "ttl", (json_int_t)ttl, "renewable", renewable, "accessor", acc, "policies", "default",
                                  policy, "creation", (json_int_t)(now_ms() / 1000), "creation_ttl", (json_int_t)ttl));
    json_object_set_new(json_object_get(tokens, tok), "meta", json_pack("{s:s}", "role_name", policy));
    return json_object_iter_key(json_object_iter_at(tokens, tok));
}

static json_t *token_entry(const char *tok)
{
    if (!tok) return NULL;
    json_t *t = json_object_get(tokens, tok);
    if (!t) return NULL;
    json_int_t exp = json_integer_value(json_object_get(t, "expire_ms"));
    if (exp && exp <= now_ms()) return NULL;
    return t;
}

static long remaining_ttl(json_t *t)
{
    json_int_t exp = json_integer_value(json_object_get(t, "expire_ms"));
    if (!exp) return 0;
    long s = (long)((exp - now_ms() + 999) / 1000);
    return s < 0 ? 0 : s;
}

static json_t *auth_block(const char *tok, json_t *t, const char *role)
{
    return json_pack("{s:s,s:s,s:O,s:O,s:[],s:{s:s?},s:I,s:b,s:s,s:s,s:b,s:n,s:i}", "client_token", tok, "accessor",
                     json_string_value(json_object_get(t, "accessor")), "policies", json_object_get(t, "policies"),
                     "token_policies", json_object_get(t, "policies"), "identity_policies", "metadata", "role_name",
                     role, "lease_duration", (json_int_t)remaining_ttl(t), "renewable",
                     json_is_true(json_object_get(t, "renewable")), "entity_id", "", "token_type", "service", "orphan",
                     1, "mfa_requirement", "num_uses", 0);
}

/* ---------- KV v2 ---------- */

static json_t *mount_of(const char *ns, const char *m, int create)
{
    char key[512];
    snprintf(key, sizeof key, "%s|%s", ns, m);
    json_t *o = json_object_get(store, key);
    if (!o && create) {
        o = json_object();
        json_object_set_new(store, key, o);
    }
    return o;
}

static int version_live(json_t *v)
{
    if (json_is_true(json_object_get(v, "destroyed"))) return 0;
    json_int_t d = json_integer_value(json_object_get(v, "deletion_ms"));
    return !(d && d <= now_ms());
}

static json_t *version_meta(json_t *v, int with_version, json_int_t n, json_t *custom)
{
    json_int_t d = json_integer_value(json_object_get(v, "deletion_ms"));
    json_t *o = json_pack("{s:o,s:o,s:b}", "created_time", time_str(json_integer_value(json_object_get(v, "created_ms"))),
                          "deletion_time", d ? time_str(d) : json_string(""), "destroyed",
                          json_is_true(json_object_get(v, "destroyed")));
    if (with_version) {
        json_object_set_new(o, "version", json_integer(n));
        json_object_set(o, "custom_metadata", json_object_size(custom) ? custom : json_null());
    }
    return o;
}

static json_t *new_entry(void)
{
    return json_pack("{s:{},s:I,s:I,s:i,s:b,s:{},s:I,s:I}", "versions", "current", (json_int_t)0, "oldest",
                     (json_int_t)0, "max_versions", 0, "cas_required", 0, "custom", "created_ms", (json_int_t)now_ms(),
                     "updated_ms", (json_int_t)now_ms());
}

static reply kv_read(json_t *m, const char *path, const char *qver)
{
    json_t *e = json_object_get(m, path);
    if (!e) return not_found();
    json_int_t n = json_integer_value(json_object_get(e, "current"));
    if (qver && *qver) {
        char *end;
        long q = strtol(qver, &end, 10);
        if (*end || q < 0) return errors(400, "invalid version");
        if (q) n = q;
    }
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)n);
    json_t *v = json_object_get(json_object_get(e, "versions"), k);
    if (!v) return not_found();
    json_t *custom = json_object_get(e, "custom");
    json_t *meta = version_meta(v, 1, n, custom);
    if (!version_live(v)) {
        reply r = ok(json_pack("{s:n,s:o}", "data", "metadata", meta), "kv");
        r.status = 404; /* Vault answers a deleted/destroyed version with its metadata and 404 */
        return r;
    }
    return ok(json_pack("{s:O,s:o}", "data", json_object_get(v, "data"), "metadata", meta), "kv");
}

static reply kv_write(json_t *m, const char *path, json_t *body)
{
    json_t *data = json_object_get(body, "data");
    if (!json_is_object(data)) return errors(400, "no data provided");
    json_t *e = json_object_get(m, path);
    json_int_t cur = e ? json_integer_value(json_object_get(e, "current")) : 0;
    json_t *cas = json_object_get(json_object_get(body, "options"), "cas");
    if (cas && !json_is_integer(cas)) return errors(400, "error parsing cas");
    int cas_required = e && json_is_true(json_object_get(e, "cas_required"));
    if (cas_required && !cas) return errors(400, "check-and-set parameter required for this call");
    if (cas && json_integer_value(cas) != cur)
        return errors(400, "check-and-set parameter did not match the current version");
    if (!e) {
        e = new_entry();
        json_object_set_new(m, path, e);
    }
    json_int_t n = cur + 1;
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)n);
    json_t *versions = json_object_get(e, "versions");
    json_object_set_new(versions, k, json_pack("{s:O,s:I,s:I,s:b}", "data", data, "created_ms", (json_int_t)now_ms(),
                                               "deletion_ms", (json_int_t)0, "destroyed", 0));
    json_object_set_new(e, "current", json_integer(n));
    json_object_set_new(e, "updated_ms", json_integer(now_ms()));
    if (!json_integer_value(json_object_get(e, "oldest"))) json_object_set_new(e, "oldest", json_integer(n));
    long maxv = (long)json_integer_value(json_object_get(e, "max_versions"));
    if (maxv <= 0) maxv = 10;
    json_int_t oldest = json_integer_value(json_object_get(e, "oldest"));
    while (n - oldest + 1 > maxv) {
        snprintf(k, sizeof k, "%lld", (long long)oldest);
        json_object_del(versions, k);
        oldest++;
    }
    json_object_set_new(e, "oldest", json_integer(oldest));
    snprintf(k, sizeof k, "%lld", (long long)n);
    json_t *meta = version_meta(json_object_get(versions, k), 1, n, json_object_get(e, "custom"));
    return ok(meta, "kv");
}

static reply kv_metadata_get(json_t *m, const char *path)
{
    json_t *e = json_object_get(m, path);
    if (!e) return not_found();
    json_t *vs = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(e, "versions"), k, v) json_object_set_new(vs, k, version_meta(v, 0, 0, NULL));
    json_t *custom = json_object_get(e, "custom");
    return ok(json_pack("{s:b,s:o,s:O,s:s,s:O,s:O,s:o,s:O,s:o}", "cas_required",
                        json_is_true(json_object_get(e, "cas_required")), "created_time",
                        time_str(json_integer_value(json_object_get(e, "created_ms"))), "current_version",
                        json_object_get(e, "current"), "delete_version_after", "0s", "max_versions",
                        json_object_get(e, "max_versions"), "oldest_version", json_object_get(e, "oldest"),
                        "updated_time", time_str(json_integer_value(json_object_get(e, "updated_ms"))),
                        "custom_metadata", json_object_size(custom) ? custom : json_null(), "versions", vs),
              "kv");
}

static reply kv_metadata_post(json_t *m, const char *path, json_t *body)
{
    json_t *e = json_object_get(m, path);
    if (!e) {
        e = new_entry();
        json_object_set_new(m, path, e);
    }
    json_t *mv = json_object_get(body, "max_versions");
    if (mv) {
        if (!json_is_integer(mv) || json_integer_value(mv) < 0) return errors(400, "max_versions must be a non-negative integer");
        json_object_set(e, "max_versions", mv);
    }
    json_t *cr = json_object_get(body, "cas_required");
    if (cr) json_object_set_new(e, "cas_required", json_boolean(json_is_true(cr)));
    json_t *cm = json_object_get(body, "custom_metadata");
    if (cm) {
        if (!json_is_object(cm)) return errors(400, "custom_metadata must be a map of strings");
        const char *k;
        json_t *v;
        json_object_foreach(cm, k, v) if (!json_is_string(v)) return errors(400, "custom_metadata values must be strings");
        json_object_set_new(e, "custom", json_deep_copy(cm));
    }
    json_object_set_new(e, "updated_ms", json_integer(now_ms()));
    return no_content();
}

static reply kv_list(json_t *m, const char *prefix)
{
    json_t *keys = json_array(), *seen = json_object();
    size_t pl = strlen(prefix);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (strncmp(k, prefix, pl) != 0) continue;
        const char *rest = k + pl;
        const char *slash = strchr(rest, '/');
        char *name = slash ? strndup(rest, (size_t)(slash - rest + 1)) : strdup(rest);
        if (*name && !json_object_get(seen, name)) {
            json_object_set_new(seen, name, json_true());
            json_array_append_new(keys, json_string(name));
        }
        free(name);
    }
    json_decref(seen);
    if (!json_array_size(keys)) {
        json_decref(keys);
        return not_found();
    }
    return ok(json_pack("{s:o}", "keys", keys), "kv");
}

static reply kv_versions_op(json_t *m, const char *op, const char *path, json_t *body)
{
    json_t *vs = json_object_get(body, "versions");
    if (!json_is_array(vs) || !json_array_size(vs)) return errors(400, "no version number provided");
    json_t *e = json_object_get(m, path);
    if (!e) return no_content();
    size_t i;
    json_t *it;
    json_array_foreach(vs, i, it) {
        char k[24];
        snprintf(k, sizeof k, "%lld", (long long)json_integer_value(it));
        json_t *v = json_object_get(json_object_get(e, "versions"), k);
        if (!v) continue;
        if (strcmp(op, "delete") == 0) json_object_set_new(v, "deletion_ms", json_integer(now_ms()));
        else if (strcmp(op, "undelete") == 0) json_object_set_new(v, "deletion_ms", json_integer(0));
        else {
            json_object_set_new(v, "destroyed", json_true());
            json_object_set_new(v, "data", json_null());
        }
    }
    return no_content();
}

static reply kv(const char *ns, const char *method, const char *mount, const char *rest, const char *qver, int list,
                json_t *body)
{
    const char *slash = strchr(rest, '/');
    char kind[16];
    size_t kl = slash ? (size_t)(slash - rest) : strlen(rest);
    if (kl >= sizeof kind) return errors(404, "unsupported path");
    memcpy(kind, rest, kl);
    kind[kl] = 0;
    const char *path = slash ? slash + 1 : "";
    int is_post = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
    json_t *m = mount_of(ns, mount, is_post);
    json_t *empty = json_object();
    if (!m) m = empty;
    reply r;
    if (strcmp(kind, "metadata") == 0 && (list || strcmp(method, "LIST") == 0)) r = kv_list(m, path);
    else if (!*path) r = errors(405, "unsupported operation");
    else if (strcmp(kind, "data") == 0 && strcmp(method, "GET") == 0) r = kv_read(m, path, qver);
    else if (strcmp(kind, "data") == 0 && is_post) r = kv_write(m, path, body);
    else if (strcmp(kind, "data") == 0 && strcmp(method, "DELETE") == 0) {
        json_t *e = json_object_get(m, path);
        if (e) {
            char k[24];
            snprintf(k, sizeof k, "%lld", (long long)json_integer_value(json_object_get(e, "current")));
            json_t *v = json_object_get(json_object_get(e, "versions"), k);
            if (v) json_object_set_new(v, "deletion_ms", json_integer(now_ms()));
        }
        r = no_content();
    } else if (strcmp(kind, "metadata") == 0 && strcmp(method, "GET") == 0) r = kv_metadata_get(m, path);
    else if (strcmp(kind, "metadata") == 0 && is_post) r = kv_metadata_post(m, path, body);
    else if (strcmp(kind, "metadata") == 0 && strcmp(method, "DELETE") == 0) {
        json_object_del(m, path);
        r = no_content();
    } else if ((strcmp(kind, "delete") == 0 || strcmp(kind, "undelete") == 0 || strcmp(kind, "destroy") == 0) && is_post)
        r = kv_versions_op(m, kind, path, body);
    else r = errors(405, "unsupported operation");
    json_decref(empty);
    return r;
}

/* ---------- routing ---------- */

static int is_mount(const char *name, size_t n)
{
    for (int i = 0; i < cfg.nmounts; i++)
        if (strlen(cfg.mounts[i]) == n && strncmp(cfg.mounts[i], name, n) == 0) return 1;
    return 0;
}

static reply route(struct MHD_Connection *c, const char *method, const char *url, json_t *body, int body_bad)
{
    if (strncmp(url, "/v1/", 4) != 0) return errors(404, "not found");
    const char *p = url + 4;
    const char *ns = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Vault-Namespace");
    if (!ns) ns = "";
    if (strcmp(p, "sys/health") == 0) {
        json_t *h = json_pack("{s:b,s:b,s:b,s:b,s:s,s:s,s:I,s:s,s:s,s:s}", "initialized", 1, "sealed", cfg.sealed,
                              "standby", 0, "performance_standby", 0, "replication_performance_mode", "disabled",
                              "replication_dr_mode", "disabled", "server_time_utc", (json_int_t)(now_ms() / 1000),
                              "version", "1.15.6", "cluster_name", "vault-cluster-fake", "cluster_id",
                              "00000000-0000-0000-0000-000000000000");
        return (reply){cfg.sealed ? 503 : 200, h, NULL, NULL};
    }
    if (cfg.sealed) return errors(503, "Vault is sealed");
    if (body_bad) return errors(400, "failed to parse JSON input: invalid character");
    int is_post = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
    if (strcmp(p, "auth/approle/login") == 0) {
        if (!is_post) return errors(405, "unsupported operation");
        const char *rid = json_string_value(json_object_get(body, "role_id"));
        const char *sid = json_string_value(json_object_get(body, "secret_id"));
        if (!rid || !*rid) return errors(400, "missing role_id");
        if (!cfg.role_id || strcmp(rid, cfg.role_id) != 0 || !sid || !cfg.secret_id || strcmp(sid, cfg.secret_id) != 0)
            return errors(400, "invalid role or secret ID");
        const char *tok = issue_token(cfg.token_ttl, !cfg.no_renew, "app");
        json_t *t = json_object_get(tokens, tok);
        return (reply){200, envelope(NULL, auth_block(tok, t, "app"), ""), NULL, NULL};
    }
    const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Vault-Token");
    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!tok && authz && strncmp(authz, "Bearer ", 7) == 0) tok = authz + 7;
    json_t *t = token_entry(tok);
    if (!t) return denied();
    if (strcmp(p, "auth/token/lookup-self") == 0) {
        long ttl = remaining_ttl(t);
        json_int_t exp = json_integer_value(json_object_get(t, "expire_ms"));
        json_int_t cr = json_integer_value(json_object_get(t, "creation"));
        return ok(json_pack("{s:s,s:I,s:O,s:s,s:s,s:o,s:i,s:s,s:o,s:O,s:i,s:b,s:s,s:O,s:b,s:I,s:s}", "accessor",
                            json_string_value(json_object_get(t, "accessor")), "creation_time", cr, "creation_ttl",
                            json_object_get(t, "creation_ttl"), "display_name", "token", "entity_id", "", "expire_time",
                            exp ? time_str(exp) : json_null(), "explicit_max_ttl", 0, "id", tok, "issue_time",
                            time_str(cr * 1000), "meta", json_object_get(t, "meta") ? json_object_get(t, "meta") : json_null(), "num_uses", 0, "orphan", 1, "path", "auth/token/create",
                            "policies", json_object_get(t, "policies"), "renewable",
                            json_is_true(json_object_get(t, "renewable")), "ttl", (json_int_t)ttl, "type", "service"),
                  "token");
    }
    if (strcmp(p, "auth/token/renew-self") == 0) {
        if (!is_post) return errors(405, "unsupported operation");
        if (!json_is_true(json_object_get(t, "renewable"))) return errors(400, "lease is not renewable");
        long ttl = (long)json_integer_value(json_object_get(t, "ttl"));
        json_t *inc = json_object_get(body, "increment");
        if (json_is_integer(inc) && json_integer_value(inc) > 0 && json_integer_value(inc) < ttl) ttl = (long)json_integer_value(inc);
        json_object_set_new(t, "expire_ms", json_integer(now_ms() + ttl * 1000));
        return (reply){200, envelope(NULL, auth_block(tok, t, NULL), "token"), NULL, NULL};
    }
    if (strcmp(p, "auth/token/revoke-self") == 0) {
        if (!is_post) return errors(405, "unsupported operation");
        json_object_del(tokens, tok);
        return no_content();
    }
    const char *slash = strchr(p, '/');
    if (slash && is_mount(p, (size_t)(slash - p))) {
        char mount[128];
        snprintf(mount, sizeof mount, "%.*s", (int)(slash - p), p);
        const char *lq = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "list");
        const char *qv = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "version");
        if (is_post && !json_is_object(body)) body = NULL;
        return kv(ns, method, mount, slash + 1, qv, lq && strcmp(lq, "true") == 0, body);
    }
    return errors(404, "no handler for route");
}

/* ---------- HTTP plumbing ---------- */

typedef struct conn_body {
    char *data;
    size_t len;
    int too_big;
} conn_body;

static void send_reply(struct MHD_Connection *c, reply r, int *status_out)
{
    char *text = NULL;
    const char *type = "application/json";
    if (r.raw) {
        text = r.raw;
        type = r.raw_type;
    } else if (r.body) {
        text = json_dumps(r.body, JSON_COMPACT);
        size_t n = strlen(text);
        text = realloc(text, n + 2);
        strcpy(text + n, "\n");
        json_decref(r.body);
    }
    size_t len = text ? strlen(text) : 0;
    if (text && cfg.truncate && r.status == 200) len /= 2; /* a body cut short: must not parse */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text ? text : (char *)"", MHD_RESPMEM_MUST_COPY);
    free(text);
    if (len || r.status != 204) MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (cfg.retry_after && (r.status == 429 || r.status == 503))
    {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld", cfg.retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    MHD_queue_response(c, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    *status_out = r.status;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    conn_body *cb = *con_cls;
    if (!cb) {
        cb = calloc(1, sizeof *cb);
        *con_cls = cb;
        return MHD_YES;
    }
    if (*upload_size) {
        if (cb->len + *upload_size > (1u << 20)) cb->too_big = 1;
        else {
            cb->data = realloc(cb->data, cb->len + *upload_size + 1);
            memcpy(cb->data + cb->len, upload, *upload_size);
            cb->len += *upload_size;
            cb->data[cb->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* Faults hit the secrets engine, not auth or health, so each test controls which
     * request fails. */
    int faulty = strncmp(url, "/v1/auth/", 9) != 0 && strcmp(url, "/v1/sys/health") != 0;
    if (faulty && cfg.delay_ms) usleep((useconds_t)cfg.delay_ms * 1000);
    reply r;
    pthread_mutex_lock(&mu);
    int n = faulty ? ++nrequests : 0;
    if (cb->too_big) {
        r = errors(413, "request body too large");
    } else if (faulty && n <= cfg.fail_first) {
        r = errors(cfg.fail_status, cfg.fail_status == 429 ? "rate limit quota exceeded" : "internal error");
    } else if (faulty && cfg.non_json) {
        r = (reply){200, NULL, "text/html", strdup("<html><body>upstream proxy error</body></html>\n")};
    } else {
        json_t *body = NULL;
        int bad = 0;
        if (cb->len) {
            body = json_loadb(cb->data, cb->len, 0, NULL);
            bad = body == NULL;
        }
        r = route(c, method, url, body, bad);
        json_decref(body);
    }
    pthread_mutex_unlock(&mu);
    int st = 0;
    send_reply(c, r, &st);
    fprintf(stderr, "fake_vault: %s %s -> %d\n", method, url, st);
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    conn_body *cb = *con_cls;
    if (cb) {
        free(cb->data);
        free(cb);
    }
    *con_cls = NULL;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc(1, (size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL;
    const char *seeds[16][2];
    int nseeds = 0;
    cfg.mounts[cfg.nmounts++] = "secret";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--port") == 0 && v) cfg.port = atoi(argv[++i]);
        else if (strcmp(a, "--root-token") == 0 && v) cfg.root_token = argv[++i];
        else if (strcmp(a, "--role-id") == 0 && v) cfg.role_id = argv[++i];
        else if (strcmp(a, "--secret-id") == 0 && v) cfg.secret_id = argv[++i];
        else if (strcmp(a, "--token-ttl") == 0 && v) cfg.token_ttl = atol(argv[++i]);
        else if (strcmp(a, "--no-renew") == 0) cfg.no_renew = 1;
        else if (strcmp(a, "--mount") == 0 && v && cfg.nmounts < 16) cfg.mounts[cfg.nmounts++] = argv[++i];
        else if (strcmp(a, "--cert") == 0 && v) cert = argv[++i];
        else if (strcmp(a, "--key") == 0 && v) key = argv[++i];
        else if (strcmp(a, "--fail-first") == 0 && v && i + 2 < argc) {
            cfg.fail_first = atoi(argv[++i]);
            cfg.fail_status = atoi(argv[++i]);
        } else if (strcmp(a, "--retry-after") == 0 && v) cfg.retry_after = atol(argv[++i]);
        else if (strcmp(a, "--delay-ms") == 0 && v) cfg.delay_ms = atol(argv[++i]);
        else if (strcmp(a, "--truncate") == 0) cfg.truncate = 1;
        else if (strcmp(a, "--non-json") == 0) cfg.non_json = 1;
        else if (strcmp(a, "--sealed") == 0) cfg.sealed = 1;
        else if (strcmp(a, "--seed") == 0 && v && i + 2 < argc) {
            seeds[nseeds][0] = argv[++i];
            seeds[nseeds][1] = argv[++i];
            if (++nseeds == 16) {
                fprintf(stderr, "fake_vault: at most 16 --seed\n");
                return 2;
            }
        }
        else {
            fprintf(stderr, "fake_vault: unknown or incomplete argument %s\n", a);
            return 2;
        }
    }
    if (cfg.port <= 0) {
        fprintf(stderr, "fake_vault: --port is required\n");
        return 2;
    }
    store = json_object();
    tokens = json_object();
    if (cfg.root_token)
        json_object_set_new(tokens, cfg.root_token,
                            json_pack("{s:I,s:I,s:b,s:s,s:[s],s:I,s:I}", "expire_ms", (json_int_t)0, "ttl", (json_int_t)0,
                                      "renewable", 0, "accessor", "root-accessor", "policies", "root", "creation",
                                      (json_int_t)(now_ms() / 1000), "creation_ttl", (json_int_t)0));
    /* --seed MOUNT/PATH JSON: a version 1 present from the start (no request needed) */
    for (int i = 0; i < nseeds; i++) {
        const char *slash = strchr(seeds[i][0], '/');
        json_t *data = json_loads(seeds[i][1], 0, NULL);
        if (!slash || !json_is_object(data)) {
            fprintf(stderr, "fake_vault: --seed wants MOUNT/PATH and a JSON object\n");
            return 2;
        }
        char mount[128];
        snprintf(mount, sizeof mount, "%.*s", (int)(slash - seeds[i][0]), seeds[i][0]);
        json_t *body = json_pack("{s:o}", "data", data);
        reply r = kv_write(mount_of("", mount, 1), slash + 1, body);
        json_decref(r.body);
        json_decref(body);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads inherit the mask; main waits below */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    char *cert_pem = NULL, *key_pem = NULL;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d;
    if (cert || key) {
        cert_pem = cert ? slurp(cert) : NULL;
        key_pem = key ? slurp(key) : NULL;
        if (!cert_pem || !key_pem) {
            fprintf(stderr, "fake_vault: cannot read --cert/--key\n");
            return 2;
        }
        d = MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)cfg.port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    } else {
        d = MHD_start_daemon(flags, (uint16_t)cfg.port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    }
    if (!d) {
        fprintf(stderr, "fake_vault: cannot listen on 127.0.0.1:%d\n", cfg.port);
        return 1;
    }
    fprintf(stderr, "fake_vault: listening on %s://127.0.0.1:%d\n", cert ? "https" : "http", cfg.port);
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    json_decref(store);
    json_decref(tokens);
    free(cert_pem);
    free(key_pem);
    return 0;
}
