/* MCP protocol core: JSON-RPC 2.0 framing rules, legacy lifecycle (initialize and version
 * negotiation), the stateless 2026-07-28 era, and tools/list + tools/call over the tool
 * registry. Transport-independent: stdio and HTTP only feed bytes and headers in. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include "mcp.h"

const char *const mcp_supported_versions[] = {
    MCP_VERSION_MODERN, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL};

#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_SERVERINFO "io.modelcontextprotocol/serverInfo"
#define LIST_TTL_MS 60000

#define BUCKETS 256

typedef struct bucket {
    char principal[64];
    double tokens;
    int64_t last_ms;
} bucket;

typedef struct reg_tool {
    mcp_tool t;
    json_t *input_schema, *output_schema;
} reg_tool;

struct mcp_server {
    char *version, *instructions;
    mcp_hooks hooks;
    reg_tool *tools;   /* sorted by name: deterministic tools/list order */
    size_t ntools;
    int page_size;
    int limit_calls, limit_window_s;
    pthread_mutex_t mu; /* buckets: HTTP serves connections on several threads */
    bucket buckets[BUCKETS];
    int max_batch;     /* 0 = MCP_MAX_BATCH */
};

int mcp_version_supported(const char *v)
{
    for (int i = 0; v && mcp_supported_versions[i]; i++)
        if (!strcmp(v, mcp_supported_versions[i])) return 1;
    return 0;
}

int mcp_version_is_legacy(const char *v)
{
    return mcp_version_supported(v) && strcmp(v, MCP_VERSION_MODERN) != 0;
}

mcp_server *mcp_server_new(const char *server_version, const char *instructions, const mcp_hooks *hooks)
{
    mcp_server *s = cb_calloc(1, sizeof *s);
    s->version = cb_strdup(server_version ? server_version : "0");
    s->instructions = cb_strdup(instructions);
    if (hooks) s->hooks = *hooks;
    s->page_size = 50;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void mcp_server_free(mcp_server *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->ntools; i++) {
        json_decref(s->tools[i].input_schema);
        json_decref(s->tools[i].output_schema);
    }
    free(s->tools);
    pthread_mutex_destroy(&s->mu);
    free(s->version);
    free(s->instructions);
    free(s);
}

void mcp_server_set_max_batch(mcp_server *s, int n) { s->max_batch = n > 0 ? n : 0; }

void mcp_server_set_page_size(mcp_server *s, int n)
{
    s->page_size = n < 1 ? 1 : n > 1000 ? 1000 : n;
}

const mcp_hooks *mcp_server_hooks(const mcp_server *s) { return &s->hooks; }

void mcp_server_set_call_limit(mcp_server *s, int calls, int window_s)
{
    pthread_mutex_lock(&s->mu);
    s->limit_calls = calls > 0 && window_s > 0 ? calls : 0;
    s->limit_window_s = window_s;
    memset(s->buckets, 0, sizeof s->buckets);
    pthread_mutex_unlock(&s->mu);
}

/* Takes one token from principal's bucket; returns 0, or seconds to wait. */
static int take_token(mcp_server *s, const char *principal)
{
    int wait = 0;
    pthread_mutex_lock(&s->mu);
    if (s->limit_calls) {
        int64_t now = cb_now_ms();
        double rate = (double)s->limit_calls / (s->limit_window_s * 1000.0); /* tokens per ms */
        bucket *b = NULL, *lru = &s->buckets[0];
        for (int i = 0; i < BUCKETS && !b; i++) {
            if (!strcmp(s->buckets[i].principal, principal)) b = &s->buckets[i];
            else if (s->buckets[i].last_ms < lru->last_ms) lru = &s->buckets[i];
        }
        if (!b) {
            b = lru;
            snprintf(b->principal, sizeof b->principal, "%s", principal);
            b->tokens = s->limit_calls;
            b->last_ms = now;
        }
        b->tokens += (double)(now - b->last_ms) * rate;
        if (b->tokens > s->limit_calls) b->tokens = s->limit_calls;
        b->last_ms = now;
        if (b->tokens >= 1.0) b->tokens -= 1.0;
        else wait = (int)ceil((1.0 - b->tokens) / rate / 1000.0);
    }
    pthread_mutex_unlock(&s->mu);
    return wait;
}

static int valid_tool_name(const char *n)
{
    size_t l = n ? strlen(n) : 0;
    if (l < 1 || l > 128) return 0;
    for (size_t i = 0; i < l; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static reg_tool *find_tool(mcp_server *s, const char *name)
{
    for (size_t i = 0; name && i < s->ntools; i++) {
        if (!strcmp(s->tools[i].t.name, name)) return &s->tools[i];
        for (const char *const *a = s->tools[i].t.aliases; a && *a; a++)
            if (!strcmp(*a, name)) return &s->tools[i];
    }
    return NULL;
}

static json_t *load_schema(const char *txt, const char *what, const char *tool, cb_error *e)
{
    json_error_t je;
    json_t *j = json_loads(txt, JSON_REJECT_DUPLICATES, &je);
    char err[160];
    if (!j) {
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "tool %s: %s is not valid JSON: %s", tool, what, je.text);
        return NULL;
    }
    json_t *t = json_object_get(j, "type");
    if (!json_is_object(j) || !json_is_string(t) || strcmp(json_string_value(t), "object") != 0) {
        json_decref(j);
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "tool %s: %s must be an object schema with type \"object\"", tool, what);
        return NULL;
    }
    if (mcp_schema_check(j, err, sizeof err)) {
        json_decref(j);
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "tool %s: %s: %s", tool, what, err);
        return NULL;
    }
    return j;
}

int mcp_server_add_tool(mcp_server *s, const mcp_tool *t, cb_error *e)
{
    if (!t || !valid_tool_name(t->name))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "tool name must be 1-128 of A-Z a-z 0-9 _ - .");
    if (!t->description || !*t->description || !t->call)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "tool %s: description and call are required", t->name);
    if (find_tool(s, t->name)) return cb_fail(e, CB_EUSAGE, CB_K_CONFLICT, "tool %s: name already registered", t->name);
    for (const char *const *a = t->aliases; a && *a; a++) {
        if (!valid_tool_name(*a)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "tool %s: bad alias", t->name);
        if (find_tool(s, *a) || !strcmp(*a, t->name))
            return cb_fail(e, CB_EUSAGE, CB_K_CONFLICT, "tool %s: alias %s already registered", t->name, *a);
    }
    json_t *in = load_schema(t->input_schema_json ? t->input_schema_json
                                                  : "{\"type\":\"object\",\"additionalProperties\":false}",
                             "inputSchema", t->name, e);
    if (!in) return CB_EUSAGE;
    json_t *out = NULL;
    if (t->output_schema_json && !(out = load_schema(t->output_schema_json, "outputSchema", t->name, e))) {
        json_decref(in);
        return CB_EUSAGE;
    }
    s->tools = cb_realloc(s->tools, (s->ntools + 1) * sizeof *s->tools);
    size_t at = 0;
    while (at < s->ntools && strcmp(s->tools[at].t.name, t->name) < 0) at++;
    memmove(&s->tools[at + 1], &s->tools[at], (s->ntools - at) * sizeof *s->tools);
    s->tools[at] = (reg_tool){*t, in, out};
    s->ntools++;
    return 0;
}

/* ---------- message parsing ---------- */

json_t *mcp_error_response(json_t *id, int code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i,s:s}", "code", code, "message", message);
    if (data) json_object_set_new(err, "data", data);
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", err);
}

static int valid_id(json_t *id) { return json_is_string(id) || json_is_integer(id) || json_is_real(id); }

/* Classifies one JSON-RPC object (not a batch). Returns the kind; on INVALID, *err is a
 * ready error response. */
static int classify(json_t *o, const char **method, json_t **err)
{
    *method = NULL;
    if (!json_is_object(o)) {
        *err = mcp_error_response(NULL, MCP_INVALID_REQUEST, "Invalid Request: expected a JSON-RPC object", NULL);
        return MCP_MSG_INVALID;
    }
    json_t *id = json_object_get(o, "id");
    json_t *good_id = valid_id(id) ? id : NULL;
    json_t *v = json_object_get(o, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
        *err = mcp_error_response(good_id, MCP_INVALID_REQUEST, "Invalid Request: jsonrpc must be \"2.0\"", NULL);
        return MCP_MSG_INVALID;
    }
    if (id && !good_id) {
        *err = mcp_error_response(NULL, MCP_INVALID_REQUEST, "Invalid Request: id must be a string or a number", NULL);
        return MCP_MSG_INVALID;
    }
    json_t *m = json_object_get(o, "method");
    if (!m) {
        if (good_id && (json_object_get(o, "result") || json_object_get(o, "error"))) return MCP_MSG_RESPONSE;
        *err = mcp_error_response(good_id, MCP_INVALID_REQUEST, "Invalid Request: no method", NULL);
        return MCP_MSG_INVALID;
    }
    if (!json_is_string(m)) {
        *err = mcp_error_response(good_id, MCP_INVALID_REQUEST, "Invalid Request: method must be a string", NULL);
        return MCP_MSG_INVALID;
    }
    *method = json_string_value(m);
    json_t *p = json_object_get(o, "params");
    if (p && !json_is_object(p)) {
        if (!good_id) return MCP_MSG_NOTIFICATION; /* never answer a notification */
        *method = NULL;
        *err = mcp_error_response(good_id, MCP_INVALID_PARAMS, "Invalid params: params must be an object", NULL);
        return MCP_MSG_INVALID;
    }
    return good_id ? MCP_MSG_REQUEST : MCP_MSG_NOTIFICATION;
}

static const char *meta_version(json_t *o)
{
    json_t *v = json_object_get(json_object_get(json_object_get(o, "params"), "_meta"), META_VERSION);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void mcp_msg_parse(const char *data, size_t len, mcp_msg *m)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    m->root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!m->root) {
        m->error = mcp_error_response(NULL, MCP_PARSE_ERROR, "Parse error", NULL);
        return;
    }
    if (json_is_array(m->root)) {
        m->kind = json_array_size(m->root) ? MCP_MSG_BATCH : MCP_MSG_INVALID;
        if (!m->kind) m->error = mcp_error_response(NULL, MCP_INVALID_REQUEST, "Invalid Request: empty batch", NULL);
        return;
    }
    m->kind = classify(m->root, &m->method, &m->error);
    if (m->kind == MCP_MSG_REQUEST || m->kind == MCP_MSG_NOTIFICATION) {
        m->meta_version = meta_version(m->root);
        /* Legacy versions in _meta are ignored: legacy clients negotiate with initialize. */
        m->modern = (m->meta_version && !mcp_version_is_legacy(m->meta_version)) ||
                    !strcmp(m->method, "server/discover");
    }
}

void mcp_msg_free(mcp_msg *m)
{
    json_decref(m->root);
    json_decref(m->error);
    memset(m, 0, sizeof *m);
}

/* ---------- results ---------- */

static json_t *result_response(json_t *id, json_t *result)
{
    return json_pack("{s:s,s:O,s:O}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *tool_json(mcp_server *s, reg_tool *r, const char *ver)
{
    const mcp_tool *t = &r->t;
    json_t *o = json_pack("{s:s,s:s,s:O}", "name", t->name, "description", t->description,
                          "inputSchema", r->input_schema);
    int modern = !strcmp(ver, MCP_VERSION_MODERN);
    if (t->title && (modern || strcmp(ver, "2025-06-18") >= 0)) json_object_set_new(o, "title", json_string(t->title));
    if (modern || strcmp(ver, "2025-03-26") >= 0) {
        json_t *a = json_pack("{s:b,s:b,s:b,s:b}", "readOnlyHint", t->read_only, "destructiveHint",
                              !t->read_only && t->destructive, "idempotentHint", t->idempotent,
                              "openWorldHint", t->open_world);
        if (t->title) json_object_set_new(a, "title", json_string(t->title));
        json_object_set_new(o, "annotations", a);
    }
    if (r->output_schema && (modern || strcmp(ver, "2025-06-18") >= 0))
        json_object_set(o, "outputSchema", r->output_schema);
    (void)s;
    return o;
}

static int allowed(mcp_server *s, const char *principal, const char *tool, json_t *args, cb_error *e)
{
    if (!s->hooks.authorize) return 1;
    cb_error_clear(e);
    return s->hooks.authorize(s->hooks.app, principal, tool, args, e) == 0;
}

/* Cursor: base64 of the last listed name (opaque to clients, stable across restarts). */
static json_t *do_tools_list(mcp_server *s, const mcp_conn *c, json_t *params, const char *ver, int *code,
                             const char **msg)
{
    json_t *cur = json_object_get(params, "cursor");
    char *after = NULL;
    if (cur && !json_is_null(cur)) {
        uint8_t *raw = NULL;
        size_t n = 0;
        if (!json_is_string(cur) || cb_base64_decode(json_string_value(cur), &raw, &n) != 0 || n == 0 || n > 128 ||
            memchr(raw, 0, n)) {
            free(raw);
            *code = MCP_INVALID_PARAMS;
            *msg = "Invalid params: invalid cursor";
            return NULL;
        }
        after = cb_strndup((char *)raw, n);
        free(raw);
    }
    json_t *arr = json_array();
    const char *last = NULL;
    int more = 0;
    cb_error e;
    for (size_t i = 0; i < s->ntools; i++) {
        reg_tool *r = &s->tools[i];
        if (after && strcmp(r->t.name, after) <= 0) continue;
        if (!allowed(s, c->principal, r->t.name, NULL, &e)) continue;
        if ((int)json_array_size(arr) == s->page_size) { more = 1; break; }
        json_array_append_new(arr, tool_json(s, r, ver));
        last = r->t.name;
    }
    free(after);
    json_t *res = json_pack("{s:o}", "tools", arr);
    if (more && last) {
        char *b = cb_base64_encode((const uint8_t *)last, strlen(last));
        json_object_set_new(res, "nextCursor", json_string(b));
        free(b);
    }
    return res;
}

/* structured_json travels inside the result under RAW_KEY until mcp_response_dump puts it
 * where the placeholder string is (marker + a per-process nonce, so no value can fake it). */
#define RAW_KEY "\x01raw"
static char raw_marker[48];

static const char *raw_placeholder(void)
{
    if (!raw_marker[0]) {
        unsigned char n[8] = {0};
        if (getrandom(n, sizeof n, 0) != (ssize_t)sizeof n) {
            int64_t t = cb_now_ms() ^ ((int64_t)getpid() << 32);
            memcpy(n, &t, sizeof n);
        }
        char *h = cb_hex_encode(n, sizeof n);
        snprintf(raw_marker, sizeof raw_marker, "\001cbraw:%s", h);
        free(h);
    }
    return raw_marker;
}

static void splice_one(json_t *msg, json_t **raws, size_t *n)
{
    json_t *res = json_is_object(msg) ? json_object_get(msg, "result") : NULL;
    json_t *raw = res ? json_object_get(res, RAW_KEY) : NULL;
    if (!raw) return;
    raws[(*n)++] = json_incref(raw);
    json_object_del(res, RAW_KEY);
}

char *mcp_response_dump(json_t *r)
{
    if (!r) return NULL;
    size_t n = 0, cap = json_is_array(r) ? json_array_size(r) : 1;
    json_t **raws = cb_calloc(cap ? cap : 1, sizeof *raws);
    if (json_is_array(r)) {
        for (size_t i = 0; i < json_array_size(r); i++) splice_one(json_array_get(r, i), raws, &n);
    } else {
        splice_one(r, raws, &n);
    }
    char *out = json_dumps(r, JSON_COMPACT);
    if (n && out) {
        /* the placeholder as jansson writes it: "\u0001cbraw:<nonce>" */
        char *pat = cb_sprintf("\"structuredContent\":\"\\u0001%s\"", raw_placeholder() + 1);
        cb_buf b;
        cb_buf_init(&b, 0);
        const char *p = out;
        for (size_t i = 0; i < n; i++) {
            const char *at = strstr(p, pat);
            if (!at) break;
            cb_buf_append(&b, p, (size_t)(at - p));
            cb_buf_puts(&b, "\"structuredContent\":");
            cb_buf_append(&b, json_string_value(raws[i]), json_string_length(raws[i]));
            p = at + strlen(pat);
        }
        cb_buf_puts(&b, p);
        free(pat);
        free(out);
        out = cb_buf_steal(&b);
    }
    for (size_t i = 0; i < n; i++) json_decref(raws[i]);
    free(raws);
    return out;
}

static json_t *text_result(const char *text, int is_error)
{
    json_t *r = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text);
    if (is_error) json_object_set_new(r, "isError", json_true());
    return r;
}

static void audit(mcp_server *s, const mcp_conn *c, mcp_call_ctx *cx, const char *tool, const char *outcome,
                  const char *msg, int64_t t0)
{
    if (!s->hooks.audit) return;
    mcp_audit_event ev = {c->principal, c->transport, cx->session_id, cx->client_name, tool, outcome, msg,
                          cb_now_ms() - t0, cx->audit_summary};
    s->hooks.audit(s->hooks.app, &ev);
}

static json_t *do_tools_call(mcp_server *s, const mcp_conn *c, json_t *params, const char *ver, int *code,
                             const char **msg, char *msgbuf, size_t msglen, int *st)
{
    json_t *name = json_object_get(params, "name");
    if (!json_is_string(name)) {
        *code = MCP_INVALID_PARAMS;
        *msg = "Invalid params: tools/call needs a string \"name\"";
        return NULL;
    }
    reg_tool *r = find_tool(s, json_string_value(name));
    cb_error e = {0};
    if (!r) {
        snprintf(msgbuf, msglen, "Unknown tool: %.200s", json_string_value(name));
        *code = MCP_INVALID_PARAMS;
        *msg = msgbuf;
        return NULL;
    }
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args) && !json_is_null(args)) {
        *code = MCP_INVALID_PARAMS;
        *msg = "Invalid params: arguments must be an object";
        return NULL;
    }
    json_t *a = json_is_object(args) ? json_incref(args) : json_object();
    int64_t t0 = cb_now_ms();
    mcp_call_ctx cx = {c->principal, c->transport, c->session && c->session->id[0] ? c->session->id : NULL, ver,
                       c->session && c->session->client_name[0] ? c->session->client_name : NULL, s->hooks.app,
                       NULL, NULL};
    json_t *res = NULL;
    char err[256];
    int modern = !strcmp(ver, MCP_VERSION_MODERN);
    if (mcp_schema_validate(r->input_schema, a, err, sizeof err)) {
        /* 2025-11-25 (SEP-1303): input validation failures are tool errors the model can fix;
         * older revisions reported them as invalid params. */
        if (modern || strcmp(ver, "2025-11-25") >= 0) {
            char *t = cb_sprintf("Invalid arguments for tool %s: %s", r->t.name, err);
            res = text_result(t, 1);
            free(t);
        } else {
            snprintf(msgbuf, msglen, "Invalid params: %s", err);
            *code = MCP_INVALID_PARAMS;
            *msg = msgbuf;
        }
        audit(s, c, &cx, r->t.name, "invalid", err, t0);
        json_decref(a);
        return res;
    }
    int wait = take_token(s, c->principal);
    if (wait) {
        char *t = cb_sprintf("Rate limit exceeded for %s: retry in %d s", c->principal, wait);
        res = text_result(t, 1);
        audit(s, c, &cx, r->t.name, "rate_limited", t, t0);
        free(t);
        json_decref(a);
        return res;
    }
    if (!allowed(s, c->principal, r->t.name, a, &e)) {
        char *t = cb_sprintf("Permission denied: %s", e.msg[0] ? e.msg : "policy does not allow this tool");
        if (c->http && s->hooks.http_deny_403 && e.kind == CB_K_DENIED) {
            snprintf(msgbuf, msglen, "Forbidden: %s", t);
            *code = MCP_SERVER_ERROR;
            *msg = msgbuf;
            *st = 403;
        } else {
            res = text_result(t, 1);
        }
        audit(s, c, &cx, r->t.name, "denied", t, t0);
        free(t);
        json_decref(a);
        return res;
    }
    json_t *structured = NULL;
    char *text = NULL;
    cb_error_clear(&e);
    int rc = r->t.call(&cx, a, &structured, &text, &e);
    json_decref(a);
    const char *outcome = "ok", *why = NULL;
    if (rc != 0) {
        outcome = "error";
        why = e.msg[0] ? e.msg : "tool failed";
        res = text_result(why, 1);
    } else if (r->output_schema && (!structured || mcp_schema_validate_at(r->output_schema, structured, "structuredContent", err, sizeof err))) {
        /* Never send structuredContent that breaks the advertised schema: clients reject it. */
        LOG_ERROR("mcp: tool %s returned output that does not match its outputSchema: %s", r->t.name,
                  structured ? err : "missing");
        outcome = "error";
        why = "internal error: the tool produced invalid output";
        res = text_result(why, 1);
    } else if (cx.structured_json) {
        /* one serialization for both: the text content and structuredContent */
        json_t *raw = json_stringn_nocheck(cx.structured_json, strlen(cx.structured_json));
        res = json_pack("{s:[{s:s,s:O}]}", "content", "type", "text", "text", raw);
        if (r->output_schema && (modern || strcmp(ver, "2025-06-18") >= 0)) {
            json_object_set_new(res, "structuredContent", json_string(raw_placeholder()));
            json_object_set(res, RAW_KEY, raw);
        }
        json_decref(raw);
    } else {
        char *dump = NULL;
        if (!text && structured) dump = json_dumps(structured, JSON_COMPACT);
        res = text_result(text ? text : dump ? dump : "", 0);
        free(dump);
        if (structured && r->output_schema && (modern || strcmp(ver, "2025-06-18") >= 0))
            json_object_set(res, "structuredContent", structured);
    }
    audit(s, c, &cx, r->t.name, outcome, why, t0);
    json_decref(structured);
    cb_free_secret(text);
    cb_free_secret(cx.structured_json);
    json_decref(cx.audit_summary);
    return res;
}

static json_t *capabilities(void) { return json_pack("{s:{s:b}}", "tools", "listChanged", 0); }

static json_t *server_info(mcp_server *s)
{
    return json_pack("{s:s,s:s}", "name", "credbroker", "version", s->version);
}

static json_t *do_initialize(mcp_server *s, const mcp_conn *c, json_t *params, int *code, const char **msg)
{
    mcp_session *ss = c->session;
    json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv)) {
        *code = MCP_INVALID_PARAMS;
        *msg = "Invalid params: initialize needs a string protocolVersion";
        return NULL;
    }
    if (!ss) {
        *code = MCP_INVALID_REQUEST;
        *msg = "Invalid Request: this connection has no session state";
        return NULL;
    }
    if (ss->initialized) {
        *code = MCP_INVALID_REQUEST;
        *msg = "Invalid Request: already initialized";
        return NULL;
    }
    const char *v = json_string_value(pv);
    const char *ans = mcp_version_is_legacy(v) ? v : MCP_VERSION_LATEST_LEGACY;
    snprintf(ss->version, sizeof ss->version, "%s", ans);
    json_t *cn = json_object_get(json_object_get(params, "clientInfo"), "name");
    if (json_is_string(cn)) {
        /* keep it printable: it ends up in audit records */
        size_t j = 0;
        for (const char *p = json_string_value(cn); *p && j < sizeof ss->client_name - 1; p++)
            if ((unsigned char)*p >= 0x20 && *p != 0x7f) ss->client_name[j++] = *p;
        ss->client_name[j] = 0;
    }
    ss->initialized = 1;
    json_t *r = json_pack("{s:s,s:o,s:o}", "protocolVersion", ans, "capabilities", capabilities(), "serverInfo",
                          server_info(s));
    if (s->instructions) json_object_set_new(r, "instructions", json_string(s->instructions));
    return r;
}

static json_t *versions_array(void)
{
    json_t *a = json_array();
    for (int i = 0; mcp_supported_versions[i]; i++) json_array_append_new(a, json_string(mcp_supported_versions[i]));
    return a;
}

/* Decodes an HTTP header value that may use the =?base64?...?= form (2026-07-28). */
static char *header_value(const char *h)
{
    size_t n = strlen(h);
    if (n >= 12 && !strncmp(h, "=?base64?", 9) && !strcmp(h + n - 2, "?=")) {
        char *b = cb_strndup(h + 9, n - 11);
        uint8_t *raw = NULL;
        size_t rn = 0;
        int rc = cb_base64_decode(b, &raw, &rn);
        free(b);
        if (rc != 0) return NULL;
        char *out = cb_strndup((char *)raw, rn);
        free(raw);
        return out;
    }
    return cb_strdup(h);
}

static int header_equals(const char *hdr, const char *want)
{
    if (!hdr || !want) return 0;
    char *v = header_value(hdr);
    int eq = v && !strcmp(v, want);
    free(v);
    return eq;
}

/* 2026-07-28: per-request version in _meta, no session. */
static json_t *dispatch_modern(mcp_server *s, const mcp_conn *c, mcp_msg *m, json_t *o, int *st)
{
    json_t *id = json_object_get(o, "id");
    json_t *params = json_object_get(o, "params");
    const char *method = m->method;
    const char *ver = m->meta_version;
    char buf[300];
    if (m->kind == MCP_MSG_NOTIFICATION) { *st = 202; return NULL; }
    if (!ver && c->http) ver = c->hdr_protocol_version; /* server/discover without _meta */
    if (!ver) ver = MCP_VERSION_MODERN;
    if (!mcp_version_supported(ver)) {
        *st = 400;
        snprintf(buf, sizeof buf, "Unsupported protocol version: %.40s", ver);
        return mcp_error_response(id, MCP_UNSUPPORTED_VERSION, buf,
                                  json_pack("{s:o,s:s}", "supported", versions_array(), "requested", ver));
    }
    if (c->http) {
        const char *why = NULL;
        json_t *nm = json_object_get(params, "name");
        if (!c->hdr_protocol_version || (m->meta_version && strcmp(c->hdr_protocol_version, m->meta_version)))
            why = "MCP-Protocol-Version header does not match the request";
        else if (!header_equals(c->hdr_method, method))
            why = "Mcp-Method header does not match the request method";
        else if ((!strcmp(method, "tools/call") || !strcmp(method, "resources/read") || !strcmp(method, "prompts/get")) &&
                 !header_equals(c->hdr_name, json_is_string(nm) ? json_string_value(nm)
                                                  : json_is_string(json_object_get(params, "uri"))
                                                      ? json_string_value(json_object_get(params, "uri"))
                                                      : NULL))
            why = "Mcp-Name header does not match the request";
        if (why) {
            *st = 400;
            return mcp_error_response(id, MCP_HEADER_MISMATCH, why, NULL);
        }
    }
    int code = 0;
    const char *msg = NULL;
    json_t *res = NULL;
    if (!strcmp(method, "server/discover")) {
        res = json_pack("{s:o,s:o,s:o,s:i,s:s}", "supportedVersions", versions_array(), "capabilities",
                        capabilities(), "serverInfo", server_info(s), "ttlMs", LIST_TTL_MS, "cacheScope", "public");
        if (s->instructions) json_object_set_new(res, "instructions", json_string(s->instructions));
    } else if (!strcmp(method, "tools/list")) {
        if ((res = do_tools_list(s, c, params, MCP_VERSION_MODERN, &code, &msg))) {
            json_object_set_new(res, "ttlMs", json_integer(LIST_TTL_MS));
            /* the list depends on the caller's policy */
            json_object_set_new(res, "cacheScope", json_string("private"));
        }
    } else if (!strcmp(method, "tools/call")) {
        res = do_tools_call(s, c, params, MCP_VERSION_MODERN, &code, &msg, buf, sizeof buf, st);
    } else {
        *st = 404;
        snprintf(buf, sizeof buf, "Method not found: %.200s", method);
        return mcp_error_response(id, MCP_METHOD_NOT_FOUND, buf, NULL);
    }
    if (!res) {
        if (*st != 403) *st = 200;
        return mcp_error_response(id, code ? code : MCP_INTERNAL_ERROR, msg ? msg : "Internal error", NULL);
    }
    json_object_set_new(res, "resultType", json_string("complete"));
    json_t *meta = json_object_get(res, "_meta");
    if (!json_is_object(meta)) json_object_set_new(res, "_meta", meta = json_object());
    json_object_set_new(meta, META_SERVERINFO, server_info(s));
    *st = 200;
    json_t *r = result_response(id, res);
    json_decref(res);
    return r;
}

/* One non-batch message of the legacy era. */
static json_t *dispatch_legacy(mcp_server *s, const mcp_conn *c, int kind, const char *method, json_t *o, int *st)
{
    json_t *id = json_object_get(o, "id");
    json_t *params = json_object_get(o, "params");
    mcp_session *ss = c->session;
    *st = 200;
    if (kind == MCP_MSG_RESPONSE) { *st = 202; return NULL; } /* we send no requests; ignore */
    if (kind == MCP_MSG_NOTIFICATION) { *st = 202; return NULL; } /* initialized, cancelled, ...: nothing to do */
    int code = 0;
    const char *msg = NULL;
    char buf[300];
    json_t *res = NULL;
    const char *ver = ss && ss->initialized ? ss->version : MCP_VERSION_LATEST_LEGACY;
    if (!strcmp(method, "initialize")) {
        res = do_initialize(s, c, params, &code, &msg);
    } else if (!strcmp(method, "ping")) {
        res = json_object();
    } else if (!ss || !ss->initialized) {
        code = MCP_INVALID_REQUEST;
        msg = "Invalid Request: server not initialized (send initialize first)";
    } else if (!strcmp(method, "tools/list")) {
        res = do_tools_list(s, c, params, ver, &code, &msg);
    } else if (!strcmp(method, "tools/call")) {
        res = do_tools_call(s, c, params, ver, &code, &msg, buf, sizeof buf, st);
    } else {
        code = MCP_METHOD_NOT_FOUND;
        snprintf(buf, sizeof buf, "Method not found: %.200s", method);
        msg = buf;
    }
    if (!res) return mcp_error_response(id, code ? code : MCP_INTERNAL_ERROR, msg ? msg : "Internal error", NULL);
    json_t *r = result_response(id, res);
    json_decref(res);
    return r;
}

json_t *mcp_dispatch(mcp_server *s, const mcp_conn *c, mcp_msg *m, int *http_status)
{
    int st_local = 200;
    int *st = http_status ? http_status : &st_local;
    *st = 200;
    if (!m->root) { *st = 400; return json_incref(m->error); }
    if (m->kind == MCP_MSG_INVALID) { *st = 400; return json_incref(m->error); }
    if (m->kind == MCP_MSG_BATCH) {
        /* JSON-RPC batches exist only in 2025-03-26; later revisions removed them. */
        if (!c->session || strcmp(c->session->version, "2025-03-26") != 0) {
            *st = 400;
            return mcp_error_response(NULL, MCP_INVALID_REQUEST,
                                      "Invalid Request: batches are only supported in protocol version 2025-03-26",
                                      NULL);
        }
        /* a batch is bounded: one message must not turn into an unbounded response */
        int cap = s->max_batch > 0 ? s->max_batch : MCP_MAX_BATCH;
        if (json_array_size(m->root) > (size_t)cap) {
            char bm[128];
            snprintf(bm, sizeof bm, "Invalid Request: batch of %zu messages (at most %d)", json_array_size(m->root), cap);
            *st = 400;
            return mcp_error_response(NULL, MCP_INVALID_REQUEST, bm, NULL);
        }
        json_t *out = json_array();
        size_t i;
        json_t *el;
        json_array_foreach(m->root, i, el) {
            const char *method;
            json_t *err = NULL;
            int kind = classify(el, &method, &err), est;
            if (kind == MCP_MSG_INVALID) { json_array_append_new(out, err); continue; }
            if (kind == MCP_MSG_REQUEST && !strcmp(method, "initialize")) {
                json_array_append_new(out, mcp_error_response(json_object_get(el, "id"), MCP_INVALID_REQUEST,
                                                              "Invalid Request: initialize must not be batched", NULL));
                continue;
            }
            json_t *r = dispatch_legacy(s, c, kind, method, el, &est);
            if (r) json_array_append_new(out, r);
        }
        if (!json_array_size(out)) { json_decref(out); *st = 202; return NULL; }
        return out;
    }
    if (m->modern) return dispatch_modern(s, c, m, m->root, st);
    return dispatch_legacy(s, c, m->kind, m->method, m->root, st);
}

char *mcp_handle_text(mcp_server *s, const mcp_conn *c, const char *data, size_t len)
{
    mcp_msg m;
    mcp_msg_parse(data, len, &m);
    json_t *r = mcp_dispatch(s, c, &m, NULL);
    /* stdio (no HTTP status): a notification never gets an answer, even an error */
    mcp_msg_free(&m);
    if (!r) return NULL;
    char *out = mcp_response_dump(r);
    json_decref(r);
    return out;
}
