/* Streamable HTTP transport on libmicrohttpd: one POST endpoint /mcp answering with plain
 * application/json (no SSE), GET /healthz, sessions for the legacy era, bearer
 * authentication through the app's hook, DNS-rebinding defence (Host and Origin
 * allow-lists) and a sliding-window limit on authentication failures per address. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include "mcp.h"
#include "metrics.h"

#define FAIL_SLOTS 256
#define FAIL_MAX 64

typedef struct sess_entry {
    mcp_session s;
    char *principal;
    pthread_mutex_t mu;     /* one request at a time per session */
    int refs, dead;
    int64_t last_ms;
    struct sess_entry *next;
} sess_entry;

typedef struct fail_slot {
    char addr[64];
    int64_t t[FAIL_MAX];    /* ring of failure times (ms) */
    int n, head;
    int64_t touched;
} fail_slot;

struct mcp_http {
    struct MHD_Daemon *d;
    mcp_server *srv;
    mcp_http_opts o;
    int port;
    char bound_host[64];
    char **origins, **hosts;
    char *cert, *key;
    pthread_mutex_t mu;     /* sessions and fail table */
    sess_entry *sessions;
    int nsessions;
    fail_slot fails[FAIL_SLOTS];
};

typedef struct req_state {
    cb_buf body;
    int too_big;
    char *principal;
    char addr[64];
} req_state;

/* ---------- helpers ---------- */

static char **dup_list(const char *const *l)
{
    size_t n = 0;
    while (l && l[n]) n++;
    char **o = cb_calloc(n + 1, sizeof *o);
    for (size_t i = 0; i < n; i++) o[i] = cb_strdup(l[i]);
    return o;
}

static void free_list(char **l)
{
    for (size_t i = 0; l && l[i]; i++) free(l[i]);
    free(l);
}

int mcp_parse_listen(const char *s, char *host, size_t hostlen, int *port, int *v6)
{
    if (!s || !*s) return -1;
    const char *colon;
    char h[64];
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof h) return -1;
        memcpy(h, s + 1, (size_t)(rb - s - 1));
        h[rb - s - 1] = 0;
        colon = rb + 1;
        *v6 = 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof h || colon == s) return -1;
        memcpy(h, s, (size_t)(colon - s));
        h[colon - s] = 0;
        *v6 = 0;
    }
    if (!strcmp(h, "localhost")) snprintf(h, sizeof h, "127.0.0.1");
    unsigned char tmp[16];
    if (inet_pton(*v6 ? AF_INET6 : AF_INET, h, tmp) != 1) return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535) return -1;
    *port = (int)p;
    if (strlen(h) >= hostlen) return -1;
    memcpy(host, h, strlen(h) + 1);
    return 0;
}

static int is_loopback_addr(const char *h, int v6)
{
    if (v6) return !strcmp(h, "::1");
    return !strncmp(h, "127.", 4);
}

static int loopback_name(const char *h, size_t n)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == n && !strncasecmp(h, names[i], n)) return 1;
    return 0;
}

/* Host header: name (without port) must be a loopback name, the bound address or listed. */
static int host_allowed(mcp_http *h, const char *host)
{
    if (!host || !*host) return 0;
    size_t n;
    if (host[0] == '[') {
        const char *rb = strchr(host, ']');
        if (!rb) return 0;
        n = (size_t)(rb - host) + 1;
    } else {
        n = strcspn(host, ":");
    }
    if (loopback_name(host, n)) return 1;
    if (strlen(h->bound_host) == n && !strncasecmp(host, h->bound_host, n)) return 1;
    for (size_t i = 0; h->hosts[i]; i++)
        if (strlen(h->hosts[i]) == n && !strncasecmp(host, h->hosts[i], n)) return 1;
    return 0;
}

static int origin_allowed(mcp_http *h, const char *origin)
{
    for (size_t i = 0; h->origins[i]; i++)
        if (!strcasecmp(origin, h->origins[i])) return 1;
    const char *p = NULL;
    if (!strncasecmp(origin, "http://", 7)) p = origin + 7;
    else if (!strncasecmp(origin, "https://", 8)) p = origin + 8;
    if (!p) return 0;
    size_t n;
    if (p[0] == '[') {
        const char *rb = strchr(p, ']');
        if (!rb) return 0;
        n = (size_t)(rb - p) + 1;
    } else {
        n = strcspn(p, ":/");
    }
    const char *rest = p + n;
    if (*rest == ':') {
        rest++;
        while (*rest >= '0' && *rest <= '9') rest++;
    }
    if (*rest && strcmp(rest, "/")) return 0;
    return loopback_name(p, n);
}

static enum MHD_Result send_body(struct MHD_Connection *conn, int status, const char *ctype, const char *body,
                                 const char *const *hdrs)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body ? strlen(body) : 0, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype) MHD_add_response_header(r, "Content-Type", ctype);
    for (size_t i = 0; hdrs && hdrs[i]; i += 2) MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, int status, json_t *j, const char *const *hdrs)
{
    char *t = j ? mcp_response_dump(j) : NULL;
    json_decref(j);
    enum MHD_Result rc = send_body(conn, status, t ? "application/json" : NULL, t, hdrs);
    free(t);
    return rc;
}

static enum MHD_Result send_err(struct MHD_Connection *conn, int status, int code, const char *msg,
                                const char *const *hdrs)
{
    return send_json(conn, status, mcp_error_response(NULL, code, msg, NULL), hdrs);
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* ---------- authentication failure limiter ---------- */

static fail_slot *fail_find(mcp_http *h, const char *addr, int create)
{
    fail_slot *lru = &h->fails[0];
    for (int i = 0; i < FAIL_SLOTS; i++) {
        if (!strcmp(h->fails[i].addr, addr)) return &h->fails[i];
        if (h->fails[i].touched < lru->touched) lru = &h->fails[i];
    }
    if (!create) return NULL;
    memset(lru, 0, sizeof *lru);
    snprintf(lru->addr, sizeof lru->addr, "%s", addr);
    return lru;
}

/* Failures of addr within the window; *retry gets seconds until one expires. */
static int fail_count(mcp_http *h, fail_slot *f, int64_t now, int *retry)
{
    int64_t win = (int64_t)h->o.auth_fail_window_s * 1000, oldest = now;
    int c = 0;
    for (int i = 0; i < f->n; i++)
        if (now - f->t[i] < win) {
            c++;
            if (f->t[i] < oldest) oldest = f->t[i];
        }
    if (retry) *retry = (int)((oldest + win - now + 999) / 1000);
    if (retry && *retry < 1) *retry = 1;
    return c;
}

static int blocked(mcp_http *h, const char *addr, int *retry)
{
    pthread_mutex_lock(&h->mu);
    fail_slot *f = fail_find(h, addr, 0);
    int b = f && fail_count(h, f, cb_now_ms(), retry) >= h->o.auth_fail_limit;
    pthread_mutex_unlock(&h->mu);
    return b;
}

static void record_failure(mcp_http *h, const char *addr)
{
    pthread_mutex_lock(&h->mu);
    fail_slot *f = fail_find(h, addr, 1);
    int64_t now = cb_now_ms();
    int cap = h->o.auth_fail_limit < FAIL_MAX ? h->o.auth_fail_limit : FAIL_MAX;
    f->t[f->head] = now;
    f->head = (f->head + 1) % cap;
    if (f->n < cap) f->n++;
    f->touched = now;
    pthread_mutex_unlock(&h->mu);
}

/* ---------- sessions ---------- */

static void sess_free(sess_entry *s)
{
    pthread_mutex_destroy(&s->mu);
    free(s->principal);
    cb_wipe(s->s.id, sizeof s->s.id);
    free(s);
}

static void sess_unlink_locked(mcp_http *h, sess_entry *s)
{
    for (sess_entry **pp = &h->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            h->nsessions--;
            break;
        }
    s->dead = 1;
    if (!s->refs) sess_free(s);
}

static void expire_locked(mcp_http *h, int64_t now)
{
    sess_entry *s = h->sessions, *next;
    for (; s; s = next) {
        next = s->next;
        if (!s->refs && now - s->last_ms > (int64_t)h->o.session_idle_s * 1000) sess_unlink_locked(h, s);
    }
}

/* Finds a live session owned by principal and takes a reference. */
static sess_entry *sess_get(mcp_http *h, const char *id, const char *principal)
{
    if (!id || strlen(id) != 64) return NULL;
    pthread_mutex_lock(&h->mu);
    expire_locked(h, cb_now_ms());
    sess_entry *s = h->sessions;
    for (; s; s = s->next)
        if (cb_ct_equal(s->s.id, id, 64) && !strcmp(s->principal, principal)) break;
    if (s) s->refs++;
    pthread_mutex_unlock(&h->mu);
    return s;
}

static void sess_put(mcp_http *h, sess_entry *s)
{
    pthread_mutex_lock(&h->mu);
    s->last_ms = cb_now_ms();
    if (--s->refs == 0 && s->dead) sess_free(s);
    pthread_mutex_unlock(&h->mu);
}

static sess_entry *sess_new(const char *principal)
{
    sess_entry *s = cb_calloc(1, sizeof *s);
    uint8_t r[32];
    if (RAND_bytes(r, sizeof r) != 1) {
        free(s);
        return NULL;
    }
    char *hx = cb_hex_encode(r, sizeof r);
    memcpy(s->s.id, hx, 65);
    free(hx);
    cb_wipe(r, sizeof r);
    s->principal = cb_strdup(principal);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

static int sess_insert(mcp_http *h, sess_entry *s)
{
    pthread_mutex_lock(&h->mu);
    expire_locked(h, cb_now_ms());
    int ok = h->nsessions < h->o.max_sessions;
    if (ok) {
        s->last_ms = cb_now_ms();
        s->next = h->sessions;
        h->sessions = s;
        h->nsessions++;
    }
    pthread_mutex_unlock(&h->mu);
    return ok ? 0 : -1;
}

/* ---------- request handling ---------- */

static int accepts_both(const char *a)
{
    return a && strcasestr(a, "application/json") && strcasestr(a, "text/event-stream");
}

static int is_json_ctype(const char *ct)
{
    if (!ct) return 0;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    return n == 16 && !strncasecmp(ct, "application/json", 16);
}

static const char *const AUTH_HDRS[] = {"WWW-Authenticate", "Bearer realm=\"credbroker\"", NULL};
static const char *const AUTH_BAD_HDRS[] = {"WWW-Authenticate", "Bearer realm=\"credbroker\", error=\"invalid_token\"",
                                            NULL};

/* Checks Authorization; on success sets rs->principal. Returns 0 or an already-queued
 * response result via *out. */
static int authenticate(mcp_http *h, struct MHD_Connection *conn, req_state *rs, enum MHD_Result *out)
{
    int retry = 0;
    if (blocked(h, rs->addr, &retry)) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry);
        const char *const hd[] = {"Retry-After", ra, NULL};
        *out = send_err(conn, 429, MCP_SERVER_ERROR, "Too Many Requests: too many failed authentication attempts", hd);
        return -1;
    }
    const char *a = hdr(conn, "Authorization");
    if (!a) {
        *out = send_err(conn, 401, MCP_SERVER_ERROR, "Unauthorized: missing bearer token", AUTH_HDRS);
        return -1;
    }
    const mcp_hooks *hk = mcp_server_hooks(h->srv);
    cb_error e = {0};
    char *principal = NULL;
    int ok = 0;
    if (!strncasecmp(a, "Bearer ", 7)) {
        const char *tok = a + 7;
        while (*tok == ' ') tok++;
        ok = *tok && hk->authenticate(hk->app, tok, &principal, &e) == 0 && principal;
    }
    if (!ok) {
        free(principal);
        record_failure(h, rs->addr);
        LOG_WARN("mcp http: authentication failed from %s", rs->addr);
        *out = send_err(conn, 401, MCP_SERVER_ERROR, "Unauthorized: invalid bearer token", AUTH_BAD_HDRS);
        return -1;
    }
    rs->principal = principal;
    return 0;
}

static enum MHD_Result handle_post(mcp_http *h, struct MHD_Connection *conn, req_state *rs)
{
    if (rs->too_big) return send_err(conn, 413, MCP_SERVER_ERROR, "Payload Too Large", NULL);
    mcp_msg m;
    mcp_msg_parse(rs->body.data, rs->body.len, &m);
    mcp_conn c = {.principal = rs->principal, .transport = "http", .http = 1,
                  .hdr_protocol_version = hdr(conn, "MCP-Protocol-Version"),
                  .hdr_method = hdr(conn, "Mcp-Method"), .hdr_name = hdr(conn, "Mcp-Name")};
    int st = 200;
    json_t *resp = NULL;
    enum MHD_Result rc;
    const char *pv = c.hdr_protocol_version;
    if (pv && !mcp_version_supported(pv) && !m.modern) {
        /* legacy rule; a 2026-07-28 request gets -32022 with data from the dispatcher */
        char msg[512];
        snprintf(msg, sizeof msg, "Bad Request: Unsupported protocol version: %.40s (supported versions: %s, %s, %s, %s, %s)",
                 pv, mcp_supported_versions[0], mcp_supported_versions[1], mcp_supported_versions[2],
                 mcp_supported_versions[3], mcp_supported_versions[4]);
        mcp_msg_free(&m);
        return send_err(conn, 400, MCP_SERVER_ERROR, msg, NULL);
    }
    if (pv && !strcmp(pv, MCP_VERSION_MODERN) && !m.modern &&
        (m.kind == MCP_MSG_REQUEST || m.kind == MCP_MSG_NOTIFICATION)) {
        json_t *id = m.kind == MCP_MSG_REQUEST ? json_object_get(m.root, "id") : NULL;
        json_t *er = mcp_error_response(id, MCP_HEADER_MISMATCH,
                                        "MCP-Protocol-Version is 2026-07-28 but the request has no matching "
                                        "_meta io.modelcontextprotocol/protocolVersion", NULL);
        mcp_msg_free(&m);
        return send_json(conn, 400, er, NULL);
    }
    if (!m.root || m.kind == MCP_MSG_INVALID || m.modern) {
        resp = mcp_dispatch(h->srv, &c, &m, &st); /* errors and the stateless era need no session */
        mcp_msg_free(&m);
        static const char *const FORBID_HDRS0[] = {"WWW-Authenticate",
                                                   "Bearer realm=\"credbroker\", error=\"insufficient_scope\"", NULL};
        return resp ? send_json(conn, st, resp, st == 403 ? FORBID_HDRS0 : NULL) : send_body(conn, 202, NULL, NULL, NULL);
    }
    int is_init = m.kind == MCP_MSG_REQUEST && !strcmp(m.method, "initialize");
    if (is_init) {
        sess_entry *s = sess_new(rs->principal);
        if (!s) {
            mcp_msg_free(&m);
            return send_err(conn, 500, MCP_INTERNAL_ERROR, "Internal error: no randomness", NULL);
        }
        c.session = &s->s;
        resp = mcp_dispatch(h->srv, &c, &m, &st);
        mcp_msg_free(&m);
        if (s->s.initialized) {
            if (sess_insert(h, s)) {
                sess_free(s);
                json_decref(resp);
                return send_err(conn, 503, MCP_SERVER_ERROR, "Service Unavailable: too many sessions", NULL);
            }
            const char *const hd[] = {"Mcp-Session-Id", s->s.id, NULL};
            LOG_INFO("mcp http: session started for %s (%s)", rs->principal, s->s.version);
            return send_json(conn, st, resp, hd);
        }
        sess_free(s);
        return resp ? send_json(conn, st, resp, NULL) : send_body(conn, 202, NULL, NULL, NULL);
    }
    const char *sid = hdr(conn, "Mcp-Session-Id");
    if (!sid) {
        mcp_msg_free(&m);
        return send_err(conn, 400, MCP_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required", NULL);
    }
    sess_entry *s = sess_get(h, sid, rs->principal);
    if (!s) {
        mcp_msg_free(&m);
        return send_err(conn, 404, MCP_SESSION_NOT_FOUND, "Session not found", NULL);
    }
    pthread_mutex_lock(&s->mu);
    c.session = &s->s;
    resp = mcp_dispatch(h->srv, &c, &m, &st);
    pthread_mutex_unlock(&s->mu);
    sess_put(h, s);
    mcp_msg_free(&m);
    static const char *const FORBID_HDRS[] = {"WWW-Authenticate",
                                              "Bearer realm=\"credbroker\", error=\"insufficient_scope\"", NULL};
    rc = resp ? send_json(conn, st, resp, st == 403 ? FORBID_HDRS : NULL) : send_body(conn, 202, NULL, NULL, NULL);
    return rc;
}

static enum MHD_Result handle_delete(mcp_http *h, struct MHD_Connection *conn, req_state *rs)
{
    const char *sid = hdr(conn, "Mcp-Session-Id");
    if (!sid) return send_err(conn, 400, MCP_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required", NULL);
    sess_entry *s = sess_get(h, sid, rs->principal);
    if (!s) return send_err(conn, 404, MCP_SESSION_NOT_FOUND, "Session not found", NULL);
    pthread_mutex_lock(&h->mu);
    if (!s->dead) sess_unlink_locked(h, s);
    pthread_mutex_unlock(&h->mu);
    sess_put(h, s);
    return send_body(conn, 204, NULL, NULL, NULL);
}

static _Thread_local const char *tl_peer;
const char *mcp_request_peer(void) { return tl_peer; }

/* GET /metrics and /healthz: outside the MCP authentication (own optional token). */
static enum MHD_Result serve_ops(mcp_http *h, struct MHD_Connection *conn, const char *url, const char *method)
{
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        const char *const hd[] = {"Allow", "GET, HEAD", NULL};
        return send_body(conn, 405, NULL, NULL, hd);
    }
    if (!strcmp(url, "/healthz")) {
        char *body = NULL;
        int bad = h->o.health ? h->o.health(h->o.health_arg, &body) : 0;
        enum MHD_Result r = send_body(conn, bad ? 503 : 200, "application/json", body ? body : "{\"status\":\"ok\"}", NULL);
        free(body);
        return r;
    }
    if (h->o.metrics_token) {
        const char *a = hdr(conn, "Authorization");
        size_t tl = strlen(h->o.metrics_token);
        if (!a || strncasecmp(a, "Bearer ", 7) || strlen(a + 7) != tl || !cb_ct_equal(a + 7, h->o.metrics_token, tl))
            return send_err(conn, 401, MCP_SERVER_ERROR, "Unauthorized: /metrics needs its bearer token", NULL);
    }
    char *text = mx_render();
    enum MHD_Result r = send_body(conn, 200, MX_CONTENT_TYPE, text, NULL);
    free(text);
    return r;
}

static void client_addr(struct MHD_Connection *conn, char *out, size_t n)
{
    snprintf(out, n, "unknown");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    mcp_http *h = cls;
    req_state *rs = *con_cls;
    tl_peer = rs ? rs->addr : NULL;
    if (!rs) {
        /* First call: headers only. Reject early so a refused body is never buffered. */
        rs = cb_calloc(1, sizeof *rs);
        cb_buf_init(&rs->body, 0);
        *con_cls = rs;
        client_addr(conn, rs->addr, sizeof rs->addr);
        tl_peer = rs->addr;
        if (!host_allowed(h, hdr(conn, "Host")))
            return send_err(conn, 403, MCP_SERVER_ERROR, "Forbidden: Host not allowed", NULL);
        const char *origin = hdr(conn, "Origin");
        if (origin && !origin_allowed(h, origin))
            return send_err(conn, 403, MCP_SERVER_ERROR, "Forbidden: Origin not allowed", NULL);
        if (!strcmp(url, "/healthz") || !strcmp(url, "/metrics")) return serve_ops(h, conn, url, method);
        if (strcmp(url, "/mcp") != 0) return send_err(conn, 404, MCP_SERVER_ERROR, "Not Found", NULL);
        enum MHD_Result out;
        if (authenticate(h, conn, rs, &out)) return out;
        if (!strcmp(method, "DELETE")) return handle_delete(h, conn, rs);
        if (strcmp(method, "POST") != 0) {
            const char *const hd[] = {"Allow", "POST, DELETE", NULL};
            return send_err(conn, 405, MCP_SERVER_ERROR, "Method Not Allowed", hd);
        }
        if (!accepts_both(hdr(conn, "Accept")))
            return send_err(conn, 406, MCP_SERVER_ERROR,
                            "Not Acceptable: Client must accept both application/json and text/event-stream", NULL);
        if (!is_json_ctype(hdr(conn, "Content-Type")))
            return send_err(conn, 415, MCP_SERVER_ERROR, "Unsupported Media Type: Content-Type must be application/json",
                            NULL);
        const char *cl = hdr(conn, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->o.max_body)
            return send_err(conn, 413, MCP_SERVER_ERROR, "Payload Too Large", NULL);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rs->too_big && rs->body.len + *upload_size > h->o.max_body) {
            rs->too_big = 1;
            cb_buf_free(&rs->body);
            cb_buf_init(&rs->body, 0);
        }
        if (!rs->too_big) cb_buf_append(&rs->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return handle_post(h, conn, rs);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)conn; (void)toe;
    req_state *rs = *con_cls;
    if (!rs) return;
    cb_buf_free(&rs->body);
    free(rs->principal);
    free(rs);
    *con_cls = NULL;
}

mcp_http *mcp_http_start(mcp_server *s, const mcp_http_opts *o, cb_error *e)
{
    const mcp_hooks *hk = mcp_server_hooks(s);
    if (!hk->authenticate) {
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "mcp http: an authenticate hook is required");
        return NULL;
    }
    char host[64];
    int port, v6;
    if (mcp_parse_listen(o && o->listen ? o->listen : "127.0.0.1:8787", host, sizeof host, &port, &v6)) {
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid listen address (want 127.0.0.1:8787 or [::1]:8787)");
        return NULL;
    }
    if ((o && !o->tls_cert_pem) != (o && !o->tls_key_pem)) {
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "TLS needs both a certificate and a key");
        return NULL;
    }
    mcp_http *h = cb_calloc(1, sizeof *h);
    if (o) h->o = *o;
    h->srv = s;
    if (!h->o.max_body) h->o.max_body = MCP_DEFAULT_MAX_MESSAGE;
    if (h->o.max_sessions <= 0) h->o.max_sessions = 1024;
    if (h->o.session_idle_s <= 0) h->o.session_idle_s = 3600;
    if (h->o.auth_fail_limit <= 0) h->o.auth_fail_limit = 10;
    if (h->o.auth_fail_limit > FAIL_MAX) h->o.auth_fail_limit = FAIL_MAX;
    if (h->o.auth_fail_window_s <= 0) h->o.auth_fail_window_s = 60;
    h->origins = dup_list(h->o.allowed_origins);
    h->hosts = dup_list(h->o.allowed_hosts);
    h->o.allowed_origins = h->o.allowed_hosts = NULL;
    snprintf(h->bound_host, sizeof h->bound_host, v6 ? "[%s]" : "%s", host);
    pthread_mutex_init(&h->mu, NULL);
    if (!is_loopback_addr(host, v6))
        LOG_WARN("WARNING: MCP HTTP server listening on non-loopback address %s: it is reachable from the network; "
                 "use TLS and strong API keys", host);

    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    memset(&sa4, 0, sizeof sa4);
    memset(&sa6, 0, sizeof sa6);
    const struct sockaddr *sa;
    if (v6) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &sa6.sin6_addr);
        sa = (const struct sockaddr *)&sa6;
    } else {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &sa4.sin_addr);
        sa = (const struct sockaddr *)&sa4;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | (v6 ? MHD_USE_IPv6 : 0);
    if (h->o.tls_cert_pem) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            cb_fail(e, CB_ERR, CB_K_INVALID, "this libmicrohttpd has no TLS support");
            mcp_http_stop(h);
            return NULL;
        }
        flags |= MHD_USE_TLS;
        h->cert = cb_strdup(h->o.tls_cert_pem);
        h->key = cb_strdup(h->o.tls_key_pem);
        h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, sa,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_CONNECTION_LIMIT, 256u,
                                MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_HTTPS_MEM_CERT, h->cert,
                                MHD_OPTION_HTTPS_MEM_KEY, h->key, MHD_OPTION_END);
    } else {
        h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, sa,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_CONNECTION_LIMIT, 256u,
                                MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    }
    if (!h->d) {
        cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "cannot listen on %s (address in use, or bad TLS material)",
                o && o->listen ? o->listen : "127.0.0.1:8787");
        mcp_http_stop(h);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (di && getsockname(di->listen_fd, (struct sockaddr *)&ss, &sl) == 0)
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    h->port = port;
    LOG_INFO("mcp http: listening on %s%s%s:%d/mcp%s", v6 ? "[" : "", host, v6 ? "]" : "", port,
             h->o.tls_cert_pem ? " (TLS)" : "");
    return h;
}

int mcp_http_port(const mcp_http *h) { return h ? h->port : 0; }

void mcp_http_stop(mcp_http *h)
{
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d); /* joins the connection threads */
    sess_entry *s = h->sessions, *n;
    for (; s; s = n) {
        n = s->next;
        sess_free(s);
    }
    free_list(h->origins);
    free_list(h->hosts);
    cb_free_secret(h->key);
    free(h->cert);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int mcp_http_run(mcp_server *s, const mcp_http_opts *o, void (*ready)(const mcp_http *h, void *arg), void *arg,
                 cb_error *e)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    mcp_http *h = mcp_http_start(s, o, e);
    if (!h) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return e && e->code ? e->code : CB_ERR;
    }
    if (ready) ready(h, arg);
    int sig = 0;
    sigwait(&set, &sig);
    LOG_INFO("mcp http: signal %d, shutting down", sig);
    mcp_http_stop(h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}
