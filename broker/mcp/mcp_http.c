/* Streamable HTTP transport on libmicrohttpd: one POST endpoint /mcp answering with plain
 * application/json (no SSE), GET /healthz, sessions for the legacy era, bearer
 * authentication through the app's hook, DNS-rebinding defence (Host and Origin
 * allow-lists).
 *
 * Built so that abuse costs a file descriptor, not a thread: MHD runs epoll in a small
 * thread pool and never blocks in a tool call; a complete POST is suspended and handed to
 * a worker thread, which resumes the connection with the response. A sweeper thread
 * enforces what MHD 0.9.75 cannot: a request must arrive whole within a deadline (MHD's
 * own timeout restarts with every trickled byte), and it releases the delayed answers to
 * failed authentications. Failures are counted per address and per presented key id and
 * only ever delay or refuse failing requests: a token that verifies is never throttled.
 * The pool, the sweeper and the counting live in mcp_http_guard.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "mcp_http_internal.h"
#include "metrics.h"

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


/* ---------- responses: built anywhere, queued by the MHD thread ---------- */

static void set_resp(req_state *rs, int status, const char *ctype, const char *body, size_t len, const char *const *hdrs)
{
    if (rs->resp) MHD_destroy_response(rs->resp);
    rs->resp = MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    rs->status = status;
    if (!rs->resp) return;
    if (ctype) MHD_add_response_header(rs->resp, "Content-Type", ctype);
    for (size_t i = 0; hdrs && hdrs[i]; i += 2) MHD_add_response_header(rs->resp, hdrs[i], hdrs[i + 1]);
}

static void set_body(req_state *rs, int status, const char *ctype, const char *body, const char *const *hdrs)
{
    set_resp(rs, status, ctype, body, body ? strlen(body) : 0, hdrs);
}

static void set_json(mcp_http *h, req_state *rs, int status, json_t *j, const char *const *hdrs)
{
    char *t = j ? mcp_response_dump(j) : NULL;
    json_decref(j);
    if (t && strlen(t) > h->o.max_response) {
        /* never answer with more than the cap, whatever a batch or a tool produced */
        free(t);
        json_t *er = mcp_error_response(NULL, MCP_INTERNAL_ERROR, "Internal error: response too large", NULL);
        t = json_dumps(er, JSON_COMPACT);
        json_decref(er);
        status = 500;
        hdrs = NULL;
    }
    set_body(rs, status, t ? "application/json" : NULL, t, hdrs);
    free(t);
}

void mcph_set_err(mcp_http *h, req_state *rs, int status, int code, const char *msg, const char *const *hdrs)
{
    set_json(h, rs, status, mcp_error_response(NULL, code, msg, NULL), hdrs);
}

enum MHD_Result mcph_queue(struct MHD_Connection *conn, req_state *rs)
{
    if (!rs->resp) return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)rs->status, rs->resp);
    MHD_destroy_response(rs->resp);
    rs->resp = NULL;
    return rc;
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
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

/* Finds a live session owned by this principal and token, and takes a reference. */
static sess_entry *sess_get(mcp_http *h, const char *id, const req_state *rs)
{
    if (!id || strlen(id) != 64) return NULL;
    pthread_mutex_lock(&h->mu);
    expire_locked(h, cb_now_ms());
    sess_entry *s = h->sessions;
    for (; s; s = s->next)
        if (cb_ct_equal(s->s.id, id, 64) && !strcmp(s->principal, rs->principal) && !memcmp(s->owner, rs->owner, 32))
            break;
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

static sess_entry *sess_new(const req_state *rs)
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
    s->principal = cb_strdup(rs->principal);
    memcpy(s->owner, rs->owner, 32);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

/* Inserts s. A token at its cap makes room by ending its own least recently used idle
 * session, never another token's; the global cap only refuses. */
static int sess_insert(mcp_http *h, sess_entry *s)
{
    pthread_mutex_lock(&h->mu);
    int64_t now = cb_now_ms();
    expire_locked(h, now);
    int mine = 0;
    sess_entry *lru = NULL;
    for (sess_entry *x = h->sessions; x; x = x->next)
        if (!memcmp(x->owner, s->owner, 32)) {
            mine++;
            /* the list is newest first: on a tie the later (older) entry wins */
            if (!x->refs && (!lru || x->last_ms <= lru->last_ms)) lru = x;
        }
    if (mine >= h->o.max_sessions_per_key && lru) {
        sess_unlink_locked(h, lru);
        mine--;
    }
    int ok = h->nsessions < h->o.max_sessions && mine < h->o.max_sessions_per_key;
    if (ok) {
        s->last_ms = now;
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

/* Checks Authorization. Returns 0 (rs->principal set), 1 when the answer is ready in rs
 * (no token), or 2 when the token failed: the answer (401, or 429 past the limit) is
 * ready and must be delayed until rs->due_ms. */
static int authenticate(mcp_http *h, struct MHD_Connection *conn, req_state *rs)
{
    const char *a = hdr(conn, "Authorization");
    if (!a) {
        mcph_set_err(h, rs, 401, MCP_SERVER_ERROR, "Unauthorized: missing bearer token", AUTH_HDRS);
        return 1;
    }
    const mcp_hooks *hk = mcp_server_hooks(h->srv);
    cb_error e = {0};
    char *principal = NULL;
    int ok = 0;
    const char *tok = "";
    if (!strncasecmp(a, "Bearer ", 7)) {
        tok = a + 7;
        while (*tok == ' ') tok++;
        ok = *tok && hk->authenticate(hk->app, tok, &principal, &e) == 0 && principal;
    }
    if (ok) {
        rs->principal = principal;
        SHA256((const unsigned char *)tok, strlen(tok), rs->owner);
        return 0;
    }
    free(principal);
    mcph_token_keyid(tok, rs->keyid);
    int retry = 0;
    int n = mcph_record_failure(h, rs->addr, rs->keyid, &retry);
    LOG_WARN("mcp http: authentication failed from %s (key id %s; %d failures in %d s)", rs->addr,
             rs->keyid[0] ? rs->keyid : "-", n, h->o.auth_fail_window_s);
    /* failures only: the first few answer at once, then each waits longer (capped) */
    int half = h->o.auth_fail_limit / 2, d = n - half;
    int64_t delay = d <= 0 ? 0 : (int64_t)100 << (d > 4 ? 4 : d - 1);
    if (delay > FAIL_DELAY_MAX_MS) delay = FAIL_DELAY_MAX_MS;
    rs->due_ms = cb_now_ms() + delay;
    if (n > h->o.auth_fail_limit) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry);
        const char *const hd[] = {"Retry-After", ra, NULL};
        mcph_set_err(h, rs, 429, MCP_SERVER_ERROR, "Too Many Requests: too many failed authentication attempts", hd);
    } else {
        mcph_set_err(h, rs, 401, MCP_SERVER_ERROR, "Unauthorized: invalid bearer token", AUTH_BAD_HDRS);
    }
    return 2;
}

static const char *const FORBID_HDRS[] = {"WWW-Authenticate", "Bearer realm=\"credbroker\", error=\"insufficient_scope\"",
                                          NULL};

/* Runs on a worker thread: the whole POST is in rs->body. Leaves the answer in rs. */
void mcph_handle_post(mcp_http *h, struct MHD_Connection *conn, req_state *rs)
{
    if (rs->too_big) {
        mcph_set_err(h, rs, 413, MCP_SERVER_ERROR, "Payload Too Large", NULL);
        return;
    }
    mcp_msg m;
    mcp_msg_parse(rs->body.data, rs->body.len, &m);
    mcp_conn c = {.principal = rs->principal, .transport = "http", .http = 1,
                  .hdr_protocol_version = hdr(conn, "MCP-Protocol-Version"),
                  .hdr_method = hdr(conn, "Mcp-Method"), .hdr_name = hdr(conn, "Mcp-Name")};
    int st = 200;
    json_t *resp = NULL;
    const char *pv = c.hdr_protocol_version;
    if (pv && !mcp_version_supported(pv) && !m.modern) {
        /* legacy rule; a 2026-07-28 request gets -32022 with data from the dispatcher */
        char msg[512];
        snprintf(msg, sizeof msg, "Bad Request: Unsupported protocol version: %.40s (supported versions: %s, %s, %s, %s, %s)",
                 pv, mcp_supported_versions[0], mcp_supported_versions[1], mcp_supported_versions[2],
                 mcp_supported_versions[3], mcp_supported_versions[4]);
        mcp_msg_free(&m);
        mcph_set_err(h, rs, 400, MCP_SERVER_ERROR, msg, NULL);
        return;
    }
    if (pv && !strcmp(pv, MCP_VERSION_MODERN) && !m.modern &&
        (m.kind == MCP_MSG_REQUEST || m.kind == MCP_MSG_NOTIFICATION)) {
        json_t *id = m.kind == MCP_MSG_REQUEST ? json_object_get(m.root, "id") : NULL;
        json_t *er = mcp_error_response(id, MCP_HEADER_MISMATCH,
                                        "MCP-Protocol-Version is 2026-07-28 but the request has no matching "
                                        "_meta io.modelcontextprotocol/protocolVersion", NULL);
        mcp_msg_free(&m);
        set_json(h, rs, 400, er, NULL);
        return;
    }
    if (!m.root || m.kind == MCP_MSG_INVALID || m.modern) {
        resp = mcp_dispatch(h->srv, &c, &m, &st); /* errors and the stateless era need no session */
        mcp_msg_free(&m);
        if (resp) set_json(h, rs, st, resp, st == 403 ? FORBID_HDRS : NULL);
        else set_body(rs, 202, NULL, NULL, NULL);
        return;
    }
    int is_init = m.kind == MCP_MSG_REQUEST && !strcmp(m.method, "initialize");
    if (is_init) {
        sess_entry *s = sess_new(rs);
        if (!s) {
            mcp_msg_free(&m);
            mcph_set_err(h, rs, 500, MCP_INTERNAL_ERROR, "Internal error: no randomness", NULL);
            return;
        }
        c.session = &s->s;
        resp = mcp_dispatch(h->srv, &c, &m, &st);
        mcp_msg_free(&m);
        if (s->s.initialized) {
            if (sess_insert(h, s)) {
                sess_free(s);
                json_decref(resp);
                mcph_set_err(h, rs, 503, MCP_SERVER_ERROR, "Service Unavailable: too many sessions", NULL);
                return;
            }
            const char *const hd[] = {"Mcp-Session-Id", s->s.id, NULL};
            LOG_INFO("mcp http: session started for %s (%s)", rs->principal, s->s.version);
            set_json(h, rs, st, resp, hd);
            return;
        }
        sess_free(s);
        if (resp) set_json(h, rs, st, resp, NULL);
        else set_body(rs, 202, NULL, NULL, NULL);
        return;
    }
    const char *sid = hdr(conn, "Mcp-Session-Id");
    if (!sid) {
        mcp_msg_free(&m);
        mcph_set_err(h, rs, 400, MCP_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required", NULL);
        return;
    }
    sess_entry *s = sess_get(h, sid, rs);
    if (!s) {
        mcp_msg_free(&m);
        mcph_set_err(h, rs, 404, MCP_SESSION_NOT_FOUND, "Session not found", NULL);
        return;
    }
    pthread_mutex_lock(&s->mu);
    c.session = &s->s;
    resp = mcp_dispatch(h->srv, &c, &m, &st);
    pthread_mutex_unlock(&s->mu);
    sess_put(h, s);
    mcp_msg_free(&m);
    if (resp) set_json(h, rs, st, resp, st == 403 ? FORBID_HDRS : NULL);
    else set_body(rs, 202, NULL, NULL, NULL);
}

static void handle_delete(mcp_http *h, struct MHD_Connection *conn, req_state *rs)
{
    const char *sid = hdr(conn, "Mcp-Session-Id");
    if (!sid) {
        mcph_set_err(h, rs, 400, MCP_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required", NULL);
        return;
    }
    sess_entry *s = sess_get(h, sid, rs);
    if (!s) {
        mcph_set_err(h, rs, 404, MCP_SESSION_NOT_FOUND, "Session not found", NULL);
        return;
    }
    pthread_mutex_lock(&h->mu);
    if (!s->dead) sess_unlink_locked(h, s);
    pthread_mutex_unlock(&h->mu);
    sess_put(h, s);
    set_body(rs, 204, NULL, NULL, NULL);
}

static _Thread_local const char *tl_peer;
const char *mcp_request_peer(void) { return tl_peer; }
/* A request runs on a worker thread: the peer of the request it runs. */
void mcph_set_peer(const char *addr) { tl_peer = addr; }

/* GET /metrics and /healthz: outside the MCP authentication (own optional token). Leaves
 * the answer in rs. */
static void serve_ops(mcp_http *h, struct MHD_Connection *conn, const char *url, const char *method, req_state *rs)
{
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        const char *const hd[] = {"Allow", "GET, HEAD", NULL};
        set_body(rs, 405, NULL, NULL, hd);
        return;
    }
    if (!strcmp(url, "/healthz")) {
        char *body = NULL;
        int bad = h->o.health ? h->o.health(h->o.health_arg, &body) : 0;
        set_body(rs, bad ? 503 : 200, "application/json", body ? body : "{\"status\":\"ok\"}", NULL);
        free(body);
        return;
    }
    if (h->o.metrics_token) {
        const char *a = hdr(conn, "Authorization");
        size_t tl = strlen(h->o.metrics_token);
        if (!a || strncasecmp(a, "Bearer ", 7) || strlen(a + 7) != tl || !cb_ct_equal(a + 7, h->o.metrics_token, tl)) {
            mcph_set_err(h, rs, 401, MCP_SERVER_ERROR, "Unauthorized: /metrics needs its bearer token", NULL);
            return;
        }
    }
    char *text = mx_render();
    set_body(rs, 200, MX_CONTENT_TYPE, text, NULL);
    free(text);
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
        if (!host_allowed(h, hdr(conn, "Host"))) {
            mcph_set_err(h, rs, 403, MCP_SERVER_ERROR, "Forbidden: Host not allowed", NULL);
            return mcph_queue(conn, rs);
        }
        const char *origin = hdr(conn, "Origin");
        if (origin && !origin_allowed(h, origin)) {
            mcph_set_err(h, rs, 403, MCP_SERVER_ERROR, "Forbidden: Origin not allowed", NULL);
            return mcph_queue(conn, rs);
        }
        if (!strcmp(url, "/healthz") || !strcmp(url, "/metrics")) {
            serve_ops(h, conn, url, method, rs);
            return mcph_queue(conn, rs);
        }
        if (strcmp(url, "/mcp") != 0) {
            mcph_set_err(h, rs, 404, MCP_SERVER_ERROR, "Not Found", NULL);
            return mcph_queue(conn, rs);
        }
        int a = authenticate(h, conn, rs);
        if (a == 1) return mcph_queue(conn, rs);
        if (a == 2) {
            rs->auth_failed = 1; /* read (and drop) the body, then answer late */
            return MHD_YES;
        }
        if (!strcmp(method, "DELETE")) {
            handle_delete(h, conn, rs);
            return mcph_queue(conn, rs);
        }
        if (strcmp(method, "POST") != 0) {
            const char *const hd[] = {"Allow", "POST, DELETE", NULL};
            mcph_set_err(h, rs, 405, MCP_SERVER_ERROR, "Method Not Allowed", hd);
            return mcph_queue(conn, rs);
        }
        if (!accepts_both(hdr(conn, "Accept"))) {
            mcph_set_err(h, rs, 406, MCP_SERVER_ERROR,
                    "Not Acceptable: Client must accept both application/json and text/event-stream", NULL);
            return mcph_queue(conn, rs);
        }
        if (!is_json_ctype(hdr(conn, "Content-Type"))) {
            mcph_set_err(h, rs, 415, MCP_SERVER_ERROR, "Unsupported Media Type: Content-Type must be application/json", NULL);
            return mcph_queue(conn, rs);
        }
        const char *cl = hdr(conn, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->o.max_body) {
            mcph_set_err(h, rs, 413, MCP_SERVER_ERROR, "Payload Too Large", NULL);
            return mcph_queue(conn, rs);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rs->auth_failed && !rs->too_big && rs->body.len + *upload_size > h->o.max_body) {
            rs->too_big = 1;
            cb_buf_free(&rs->body);
            cb_buf_init(&rs->body, 0);
        }
        if (!rs->auth_failed && !rs->too_big) cb_buf_append(&rs->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (rs->resp) return mcph_queue(conn, rs); /* back from a worker or a delay */
    mcph_track_busy(h, conn, 1);
    if (rs->auth_failed) return mcph_delay_answer(h, conn, rs);
    return mcph_submit(h, conn, rs);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    mcp_http *h = cls;
    req_state *rs = *con_cls;
    mcph_track_busy(h, conn, 0); /* the next request on this connection has its own deadline */
    if (!rs) return;
    if (rs->resp) MHD_destroy_response(rs->resp);
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
    if (h->o.max_sessions <= 0) h->o.max_sessions = 4096;
    if (h->o.max_sessions_per_key <= 0) h->o.max_sessions_per_key = 64;
    if (h->o.session_idle_s <= 0) h->o.session_idle_s = 900;
    if (h->o.auth_fail_limit <= 0) h->o.auth_fail_limit = 10;
    if (h->o.auth_fail_limit > FAIL_MAX) h->o.auth_fail_limit = FAIL_MAX;
    if (h->o.auth_fail_window_s <= 0) h->o.auth_fail_window_s = 60;
    if (h->o.max_connections <= 0) h->o.max_connections = 4096;
    if (h->o.request_deadline_s <= 0) h->o.request_deadline_s = 10;
    if (!h->o.max_response) h->o.max_response = 16u << 20;
    if (h->o.workers <= 0) h->o.workers = 32;
    /* one key may use three quarters of the workers: the rest stay for the other keys */
    if (h->o.max_inflight_per_key <= 0) h->o.max_inflight_per_key = h->o.workers * 3 / 4 > 1 ? h->o.workers * 3 / 4 : 1;
    h->o.max_connections = mcph_fit_nofile(h->o.max_connections);
    h->origins = dup_list(h->o.allowed_origins);
    h->hosts = dup_list(h->o.allowed_hosts);
    h->o.allowed_origins = h->o.allowed_hosts = NULL;
    snprintf(h->bound_host, sizeof h->bound_host, v6 ? "[%s]" : "%s", host);
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->ct_mu, NULL);
    pthread_mutex_init(&h->q_mu, NULL);
    pthread_cond_init(&h->q_cv, NULL);
    if (!is_loopback_addr(host, v6))
        LOG_WARN("WARNING: MCP HTTP server listening on non-loopback address %s: it is reachable from the network; "
                 "use TLS and strong API keys", host);

    h->workers = cb_calloc((size_t)h->o.workers, sizeof *h->workers);
    for (int i = 0; i < h->o.workers; i++) {
        if (pthread_create(&h->workers[i], NULL, mcph_worker_main, h) != 0) break;
        h->nworkers++;
    }
    h->sweeper_started = pthread_create(&h->sweeper, NULL, mcph_sweeper_main, h) == 0;
    if (!h->nworkers || !h->sweeper_started) {
        cb_fail(e, CB_ERR, CB_K_INTERNAL, "mcp http: cannot start threads");
        mcp_http_stop(h);
        return NULL;
    }

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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     (v6 ? MHD_USE_IPv6 : 0);
    unsigned pool = 2, climit = (unsigned)h->o.max_connections;
    unsigned perip = h->o.max_connections_per_ip > 0 ? (unsigned)h->o.max_connections_per_ip : 0u;
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
                                MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION, mcph_notify_conn, h,
                                MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_CONNECTION_LIMIT, climit,
                                MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, perip, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                MHD_OPTION_HTTPS_MEM_CERT, h->cert, MHD_OPTION_HTTPS_MEM_KEY, h->key, MHD_OPTION_END);
    } else {
        h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, sa,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION, mcph_notify_conn, h,
                                MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_CONNECTION_LIMIT, climit,
                                MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, perip, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                MHD_OPTION_END);
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
    LOG_INFO("mcp http: listening on %s%s%s:%d/mcp%s (at most %d connections, %d workers)", v6 ? "[" : "", host,
             v6 ? "]" : "", port, h->o.tls_cert_pem ? " (TLS)" : "", h->o.max_connections, h->nworkers);
    return h;
}

int mcp_http_port(const mcp_http *h) { return h ? h->port : 0; }

void mcp_http_stop(mcp_http *h)
{
    if (!h) return;
    if (h->d) { /* no new connections */
        MHD_socket ls = MHD_quiesce_daemon(h->d);
        if (ls != MHD_INVALID_SOCKET) close(ls);
    }
    /* every suspended connection must be resumed before MHD stops: workers finish their
     * mcph_queue, the sweeper releases every delayed answer */
    pthread_mutex_lock(&h->q_mu);
    pthread_mutex_lock(&h->ct_mu);
    h->stopping = 1;
    pthread_mutex_unlock(&h->ct_mu);
    pthread_cond_broadcast(&h->q_cv);
    pthread_mutex_unlock(&h->q_mu);
    for (int i = 0; i < h->nworkers; i++) pthread_join(h->workers[i], NULL);
    if (h->sweeper_started) pthread_join(h->sweeper, NULL);
    if (h->d) MHD_stop_daemon(h->d);
    free(h->workers);
    for (inflight *f = h->inflight, *fn; f; f = fn) {
        fn = f->next;
        free(f);
    }
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
    pthread_mutex_destroy(&h->ct_mu);
    pthread_mutex_destroy(&h->q_mu);
    pthread_cond_destroy(&h->q_cv);
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
