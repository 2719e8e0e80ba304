/* credbroker.json: parse and validate (file:line:column diagnostics, unknown keys fail). */
#include "config.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "policy.h"
#include "secrets/secret_provider.h"

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void config_free(cb_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nsources; i++) {
        free(c->sources[i].name);
        free(c->sources[i].ref);
        free(c->sources[i].engine);
    }
    free(c->sources);
    free(c->file);
    free(c->listen);
    free(c->listen_host);
    strv_free(c->allowed_origins, c->norigins);
    strv_free(c->allowed_hosts, c->nhosts);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->metrics_token_ref);
    free(c->audit_anchor);
    free(c->master_key_ref);
    free(c);
}

cb_config *config_defaults(void)
{
    cb_config *c = cb_calloc(1, sizeof *c);
    c->listen = cb_strdup(CONFIG_DEFAULT_LISTEN);
    const char *why;
    if (config_parse_listen(c->listen, &c->listen_host, &c->listen_port, &why) != 0) abort();
    return c;
}

const char *config_default_path = CONFIG_DEFAULT_PATH;

int config_path_explicit(const char *cli_value)
{
    const char *env = getenv("CREDBROKER_CONFIG");
    if (env && *env) return 1;
    return cli_value && strcmp(cli_value, config_default_path) != 0;
}

const config_source *config_source_get(const cb_config *c, const char *name)
{
    if (!c || !name) return NULL;
    for (size_t i = 0; i < c->nsources; i++)
        if (strcmp(c->sources[i].name, name) == 0) return &c->sources[i];
    return NULL;
}

static int parse_port(const char *s, int *port)
{
    if (!*s || strlen(s) > 5) return -1;
    int v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535) return -1;
    *port = v;
    return 0;
}

static int valid_hostname(const char *h, size_t n)
{
    if (n == 0 || n > 253) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == '_') || ch >= 0x80) return 0;
    }
    return 1;
}

/* host[:port] or [v6][:port]; port_required selects whether ":port" must be there. */
static int parse_hostport(const char *s, int port_required, char **host, int *port, const char **why)
{
    *host = NULL;
    *port = 0;
    const char *rest;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end) { *why = "missing ']' after IPv6 address"; return -1; }
        size_t n = (size_t)(end - s - 1);
        char buf[64];
        unsigned char tmp[16];
        if (n == 0 || n >= sizeof buf) { *why = "invalid IPv6 address"; return -1; }
        memcpy(buf, s + 1, n);
        buf[n] = 0;
        if (inet_pton(AF_INET6, buf, tmp) != 1) { *why = "invalid IPv6 address"; return -1; }
        *host = cb_strdup(buf);
        rest = end + 1;
    } else {
        const char *colon = strrchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (colon && memchr(s, ':', n)) { *why = "an IPv6 address must be written in [brackets]"; return -1; }
        if (!valid_hostname(s, n)) { *why = "invalid host"; return -1; }
        *host = cb_strndup(s, n);
        rest = s + n;
    }
    if (*rest == 0) {
        if (port_required) { free(*host); *host = NULL; *why = "missing :port"; return -1; }
        return 0;
    }
    if (*rest != ':' || parse_port(rest + 1, port) != 0) {
        free(*host);
        *host = NULL;
        *why = "port must be 1..65535";
        return -1;
    }
    return 0;
}

int config_parse_listen(const char *s, char **host, int *port, const char **why)
{
    if (!s || !*s) { *why = "empty"; *host = NULL; return -1; }
    return parse_hostport(s, 1, host, port, why);
}

/* "http(s)://host[:port]" exactly as browsers send Origin (no path, no trailing slash). */
static int valid_origin(const char *s, const char **why)
{
    const char *rest;
    if (strncmp(s, "http://", 7) == 0) rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0) rest = s + 8;
    else { *why = "must start with http:// or https://"; return 0; }
    if (strchr(rest, '/')) { *why = "must not have a path"; return 0; }
    char *h = NULL;
    int port;
    int rc = parse_hostport(rest, 0, &h, &port, why);
    free(h);
    return rc == 0;
}

static long long get_int(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, long long lo, long long hi, int *ok)
{
    if (!json_is_integer(v)) { jdoc_err(c, at, "%s: must be an integer %lld..%lld", path, lo, hi); *ok = 0; return 0; }
    long long x = json_integer_value(v);
    if (x < lo || x > hi) { jdoc_err(c, at, "%s: %lld out of range %lld..%lld", path, x, lo, hi); *ok = 0; return 0; }
    *ok = 1;
    return x;
}

static const char *get_str(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, size_t max)
{
    if (!json_is_string(v)) { jdoc_err(c, at, "%s: must be a string", path); return NULL; }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0) { jdoc_err(c, at, "%s: must not be empty", path); return NULL; }
    if (n > max) { jdoc_err(c, at, "%s: longer than %zu characters", path, max); return NULL; }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) { jdoc_err(c, at, "%s: contains a control character", path); return NULL; }
    return s;
}

static const jdoc_pos *member_or(const jdoc_pos *obj, const char *key)
{
    const jdoc_pos *m = jdoc_member(obj, key);
    return m ? m : obj;
}

/* Validates a secret reference; returns a copy or NULL. */
static char *get_ref(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path)
{
    const char *s = get_str(c, v, at, path, 2048);
    if (!s) return NULL;
    secret_ref r;
    cb_error e = {0};
    if (secret_ref_parse(s, &r, &e) != 0) { jdoc_err(c, at, "%s: %s", path, e.msg); return NULL; }
    secret_ref_free(&r);
    return cb_strdup(s);
}

static void parse_source(jdoc_ctx *c, const char *name, json_t *o, const jdoc_pos *pos, config_source *s)
{
    static const char *const keys[] = {"ref", "ttl_s", "max_staleness_s", "engine", NULL};
    char q[80];
    jdoc_quote(name, q);
    char *path = cb_sprintf("sources.%s", q);
    s->name = cb_strdup(name);
    s->ttl_s = 300;
    s->max_staleness_s = 86400;
    s->line = pos->key_line;
    s->column = pos->key_col;
    if (!policy_valid_name(name))
        jdoc_err(c, pos, "%s: not a valid connection name (1..%d of A-Z a-z 0-9 _ . -)", path, POLICY_NAME_MAX);
    if (!json_is_object(o)) { jdoc_err(c, pos, "%s: must be an object", path); free(path); return; }
    jdoc_check_keys(c, o, pos, path, keys);
    json_t *v;
    char *sub;
    int ok;
    if ((v = json_object_get(o, "ref"))) {
        sub = cb_sprintf("%s.ref", path);
        s->ref = get_ref(c, v, member_or(pos, "ref"), sub);
        free(sub);
    } else {
        jdoc_err(c, pos, "%s: missing required key \"ref\"", path);
    }
    if ((v = json_object_get(o, "ttl_s"))) {
        sub = cb_sprintf("%s.ttl_s", path);
        long long x = get_int(c, v, member_or(pos, "ttl_s"), sub, 0, 86400, &ok);
        if (ok) s->ttl_s = (int)x;
        free(sub);
    }
    int stale_set = 0;
    if ((v = json_object_get(o, "max_staleness_s"))) {
        sub = cb_sprintf("%s.max_staleness_s", path);
        long long x = get_int(c, v, member_or(pos, "max_staleness_s"), sub, 0, 2592000, &ok);
        if (ok) { s->max_staleness_s = (int)x; stale_set = 1; }
        free(sub);
    }
    if (s->max_staleness_s < s->ttl_s) {
        if (stale_set) jdoc_err(c, member_or(pos, "max_staleness_s"), "%s.max_staleness_s: must be >= ttl_s (%d)", path, s->ttl_s);
        else s->max_staleness_s = s->ttl_s;
    }
    if ((v = json_object_get(o, "engine"))) {
        const jdoc_pos *at = member_or(pos, "engine");
        const char *en = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(en, "postgres") != 0 && strcmp(en, "sqlserver") != 0 && strcmp(en, "mysql") != 0)
            jdoc_err(c, at, "%s.engine: must be one of postgres, sqlserver, mysql", path);
        else s->engine = cb_strdup(json_string_value(v));
    }
    free(path);
}

static void parse_str_list(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, int origins,
                           char ***out, size_t *n)
{
    if (!json_is_array(v)) { jdoc_err(c, at, "%s: must be an array of strings", path); return; }
    size_t cnt = json_array_size(v), i;
    json_t *it;
    *out = cb_calloc(cnt ? cnt : 1, sizeof **out);
    json_array_foreach(v, i, it) {
        const jdoc_pos *ip = jdoc_item(at, i);
        if (!ip) ip = at;
        const char *s = get_str(c, it, ip, path, 300);
        if (!s) continue;
        const char *why = NULL;
        char q[80];
        jdoc_quote(s, q);
        if (origins) {
            if (!valid_origin(s, &why)) { jdoc_err(c, ip, "%s: \"%s\": %s", path, q, why); continue; }
        } else {
            char *h = NULL;
            int port;
            int rc = parse_hostport(s, 0, &h, &port, &why);
            free(h);
            if (rc) { jdoc_err(c, ip, "%s: \"%s\": %s", path, q, why); continue; }
        }
        (*out)[(*n)++] = cb_strdup(s);
    }
}

/* "database_pool": {"max_sessions": 64, "max_sessions_per_client": 32} */
static void parse_pool(jdoc_ctx *c, json_t *v, const jdoc_pos *pp, cb_config *cfg)
{
    static const char *const pkeys[] = {"max_sessions", "max_sessions_per_client", NULL};
    if (!json_is_object(v)) { jdoc_err(c, pp, "database_pool: must be an object"); return; }
    jdoc_check_keys(c, v, pp, "database_pool", pkeys);
    json_t *x;
    int ok;
    if ((x = json_object_get(v, "max_sessions"))) {
        long long n = get_int(c, x, member_or(pp, "max_sessions"), "database_pool.max_sessions", 1, 4096, &ok);
        if (ok) cfg->pool_max = (int)n;
    }
    if ((x = json_object_get(v, "max_sessions_per_client"))) {
        long long n = get_int(c, x, member_or(pp, "max_sessions_per_client"), "database_pool.max_sessions_per_client", 1,
                              4096, &ok);
        if (ok) cfg->pool_per_client = (int)n;
    }
}

static void parse_config(jdoc_ctx *c, const jdoc *doc, cb_config *cfg)
{
    static const char *const keys[] = {"$schema", "sources", "listen", "allowed_origins", "allowed_hosts", "tls",
                                       "api_key_rate_limit", "master_key_ref", "metrics", "audit", "database_pool",
                                       "http", NULL};
    json_t *root = doc->root, *v;
    const jdoc_pos *pos = doc->pos;
    jdoc_check_keys(c, root, pos, "", keys);
    if ((v = json_object_get(root, "$schema")) && !json_is_string(v))
        jdoc_err(c, member_or(pos, "$schema"), "$schema: must be a string");
    if ((v = json_object_get(root, "sources"))) {
        const jdoc_pos *sp = member_or(pos, "sources");
        if (!json_is_object(v)) jdoc_err(c, sp, "sources: must be an object");
        else {
            size_t n = json_object_size(v);
            cfg->sources = cb_calloc(n ? n : 1, sizeof *cfg->sources);
            const char *k;
            json_t *it;
            json_object_foreach(v, k, it) {
                parse_source(c, k, it, member_or(sp, k), &cfg->sources[cfg->nsources++]);
            }
        }
    }
    if ((v = json_object_get(root, "listen"))) {
        const jdoc_pos *at = member_or(pos, "listen");
        const char *s = get_str(c, v, at, "listen", 300);
        if (s) {
            char *h = NULL;
            int port;
            const char *why = NULL;
            if (config_parse_listen(s, &h, &port, &why) != 0) {
                char q[80];
                jdoc_quote(s, q);
                jdoc_err(c, at, "listen: \"%s\": %s", q, why);
            } else {
                free(cfg->listen); free(cfg->listen_host);
                cfg->listen = cb_strdup(s);
                cfg->listen_host = h;
                cfg->listen_port = port;
            }
        }
    }
    if ((v = json_object_get(root, "allowed_origins")))
        parse_str_list(c, v, member_or(pos, "allowed_origins"), "allowed_origins", 1, &cfg->allowed_origins, &cfg->norigins);
    if ((v = json_object_get(root, "allowed_hosts")))
        parse_str_list(c, v, member_or(pos, "allowed_hosts"), "allowed_hosts", 0, &cfg->allowed_hosts, &cfg->nhosts);
    if ((v = json_object_get(root, "tls"))) {
        static const char *const tkeys[] = {"cert", "key", NULL};
        const jdoc_pos *tp = member_or(pos, "tls");
        if (!json_is_object(v)) jdoc_err(c, tp, "tls: must be an object");
        else {
            jdoc_check_keys(c, v, tp, "tls", tkeys);
            json_t *cert = json_object_get(v, "cert"), *key = json_object_get(v, "key");
            if (!cert || !key) jdoc_err(c, tp, "tls: needs both \"cert\" and \"key\"");
            const char *s;
            if (cert && (s = get_str(c, cert, member_or(tp, "cert"), "tls.cert", 4096))) cfg->tls_cert = cb_strdup(s);
            if (key && (s = get_str(c, key, member_or(tp, "key"), "tls.key", 4096))) cfg->tls_key = cb_strdup(s);
        }
    }
    if ((v = json_object_get(root, "api_key_rate_limit"))) {
        static const char *const rkeys[] = {"per_min", "burst", NULL};
        const jdoc_pos *rp = member_or(pos, "api_key_rate_limit");
        if (!json_is_object(v)) jdoc_err(c, rp, "api_key_rate_limit: must be an object");
        else {
            jdoc_check_keys(c, v, rp, "api_key_rate_limit", rkeys);
            json_t *x;
            int ok;
            if ((x = json_object_get(v, "per_min"))) {
                long long n = get_int(c, x, member_or(rp, "per_min"), "api_key_rate_limit.per_min", 1, 100000, &ok);
                if (ok) cfg->rate_per_min = (int)n;
            } else {
                jdoc_err(c, rp, "api_key_rate_limit: missing required key \"per_min\"");
            }
            if ((x = json_object_get(v, "burst"))) {
                long long n = get_int(c, x, member_or(rp, "burst"), "api_key_rate_limit.burst", 1, 100000, &ok);
                if (ok) cfg->rate_burst = (int)n;
            } else {
                cfg->rate_burst = cfg->rate_per_min;
            }
        }
    }
    if ((v = json_object_get(root, "database_pool"))) parse_pool(c, v, member_or(pos, "database_pool"), cfg);
    if ((v = json_object_get(root, "master_key_ref")))
        cfg->master_key_ref = get_ref(c, v, member_or(pos, "master_key_ref"), "master_key_ref");
    if ((v = json_object_get(root, "http"))) {
        /* serve's limits (issue 11); absent = the defaults in mcp.h / mcp_http.c */
        static const struct { const char *k; long long lo, hi; } L[] = {
            {"max_connections", 16, 1000000}, {"max_sessions", 1, 1000000}, {"max_sessions_per_key", 1, 100000},
            {"session_idle_s", 10, 86400}, {"request_deadline_s", 1, 600}, {"max_batch", 1, 10000},
            {"workers", 1, 1024}, {"auth_fail_limit", 1, 64}, {"max_inflight_per_key", 1, 1024},
            {"max_connections_per_ip", 1, 1000000},
            {"max_response_bytes", 65536, 1073741824LL}};
        int *dst[] = {&cfg->http.max_connections, &cfg->http.max_sessions, &cfg->http.max_sessions_per_key,
                      &cfg->http.session_idle_s, &cfg->http.request_deadline_s, &cfg->http.max_batch,
                      &cfg->http.workers, &cfg->http.auth_fail_limit, &cfg->http.max_inflight_per_key,
                      &cfg->http.max_connections_per_ip, NULL};
        static const char *const hkeys[] = {"max_connections", "max_sessions", "max_sessions_per_key", "session_idle_s",
                                            "request_deadline_s", "max_batch", "workers", "auth_fail_limit",
                                            "max_inflight_per_key", "max_connections_per_ip", "max_response_bytes", NULL};
        const jdoc_pos *hp = member_or(pos, "http");
        if (!json_is_object(v)) jdoc_err(c, hp, "http: must be an object");
        else {
            jdoc_check_keys(c, v, hp, "http", hkeys);
            for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
                json_t *x = json_object_get(v, L[i].k);
                if (!x) continue;
                char path[64];
                snprintf(path, sizeof path, "http.%s", L[i].k);
                int ok;
                long long n = get_int(c, x, member_or(hp, L[i].k), path, L[i].lo, L[i].hi, &ok);
                if (!ok) continue;
                if (dst[i]) *dst[i] = (int)n;
                else cfg->http.max_response_bytes = n;
            }
        }
    }
    /* one-key objects holding a secret reference: "metrics": {"token_ref"}, "audit": {"anchor"} */
    static const char *const okeys[][3] = {{"metrics", "token_ref", "metrics.token_ref"}, {"audit", "anchor", "audit.anchor"}};
    for (int i = 0; i < 2; i++) {
        if (!(v = json_object_get(root, okeys[i][0]))) continue;
        const jdoc_pos *op = member_or(pos, okeys[i][0]);
        const char *const allowed[] = {okeys[i][1], NULL};
        if (!json_is_object(v)) { jdoc_err(c, op, "%s: must be an object", okeys[i][0]); continue; }
        jdoc_check_keys(c, v, op, okeys[i][0], allowed);
        json_t *x = json_object_get(v, okeys[i][1]);
        if (!x) { jdoc_err(c, op, "%s: missing required key \"%s\"", okeys[i][0], okeys[i][1]); continue; }
        char *r = get_ref(c, x, member_or(op, okeys[i][1]), okeys[i][2]);
        if (i == 0) cfg->metrics_token_ref = r;
        else cfg->audit_anchor = r;
    }
}

int config_load_buffer(const char *name, const char *text, size_t len, cb_config **out,
                       cb_diags *diags, cb_error *e)
{
    *out = NULL;
    cb_diags local = {0};
    cb_diags *d = diags ? diags : &local;
    size_t before = d->count;
    jdoc doc;
    if (jdoc_parse(&doc, name, text, len, d) != 0) {
        jdoc_free(&doc);
        int rc = cb_diags_fail(d, before, e, CB_K_INVALID);
        cb_diags_free(&local);
        return rc;
    }
    cb_config *cfg = config_defaults();
    cfg->file = cb_strdup(name);
    jdoc_ctx c = {name, d, 0};
    parse_config(&c, &doc, cfg);
    jdoc_free(&doc);
    if (c.errors) {
        config_free(cfg);
        int rc = cb_diags_fail(d, before, e, CB_K_INVALID);
        cb_diags_free(&local);
        return rc;
    }
    *out = cfg;
    return 0;
}

int config_load(const char *path, int required, cb_config **out, cb_diags *diags, cb_error *e)
{
    *out = NULL;
    if (!path || !*path) path = config_default_path;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        if (!required) { *out = config_defaults(); return 0; }
        cb_diags local = {0};
        cb_diags *d = diags ? diags : &local;
        size_t before = d->count;
        cb_diags_add(d, path, 0, 0, "config file not found");
        int rc = cb_diags_fail(d, before, e, CB_K_NOTFOUND);
        cb_diags_free(&local);
        return rc;
    }
    cb_diags local = {0};
    cb_diags *d = diags ? diags : &local;
    size_t before = d->count;
    size_t len = 0;
    char *text = jdoc_read_file(path, path, CONFIG_MAX_FILE_BYTES, &len, d);
    if (!text) {
        int rc = cb_diags_fail(d, before, e, CB_K_INVALID);
        cb_diags_free(&local);
        return rc;
    }
    int rc = config_load_buffer(path, text, len, out, d, e);
    free(text);
    cb_diags_free(&local);
    return rc;
}

json_t *config_to_json(const cb_config *c)
{
    json_t *o = json_object(), *src = json_object(), *orig = json_array(), *hosts = json_array();
    for (size_t i = 0; i < c->nsources; i++) {
        const config_source *s = &c->sources[i];
        json_t *so = json_pack("{s:s,s:i,s:i}", "ref", s->ref ? s->ref : "", "ttl_s", s->ttl_s, "max_staleness_s", s->max_staleness_s);
        if (s->engine) json_object_set_new(so, "engine", json_string(s->engine));
        json_object_set_new(src, s->name, so);
    }
    json_object_set_new(o, "sources", src);
    json_object_set_new(o, "listen", json_string(c->listen));
    for (size_t i = 0; i < c->norigins; i++) json_array_append_new(orig, json_string(c->allowed_origins[i]));
    for (size_t i = 0; i < c->nhosts; i++) json_array_append_new(hosts, json_string(c->allowed_hosts[i]));
    json_object_set_new(o, "allowed_origins", orig);
    json_object_set_new(o, "allowed_hosts", hosts);
    if (c->tls_cert) json_object_set_new(o, "tls", json_pack("{s:s,s:s}", "cert", c->tls_cert, "key", c->tls_key ? c->tls_key : ""));
    if (c->pool_max || c->pool_per_client)
        json_object_set_new(o, "database_pool", json_pack("{s:i,s:i}", "max_sessions", c->pool_max ? c->pool_max : CONFIG_POOL_MAX,
                                                          "max_sessions_per_client", c->pool_per_client ? c->pool_per_client : CONFIG_POOL_PER_CLIENT));
    if (c->rate_per_min) json_object_set_new(o, "api_key_rate_limit", json_pack("{s:i,s:i}", "per_min", c->rate_per_min, "burst", c->rate_burst));
    if (c->master_key_ref) json_object_set_new(o, "master_key_ref", json_string(c->master_key_ref));
    if (c->metrics_token_ref) json_object_set_new(o, "metrics", json_pack("{s:s}", "token_ref", c->metrics_token_ref));
    if (c->audit_anchor) json_object_set_new(o, "audit", json_pack("{s:s}", "anchor", c->audit_anchor));
    return o;
}
