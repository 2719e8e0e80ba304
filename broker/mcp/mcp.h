/* MCP server layer: a transport-independent JSON-RPC dispatcher with a tool registry
 * (mcp_server.c), JSON Schema subset validation (mcp_schema.c), and two transports:
 * newline-delimited stdio (mcp_stdio.c) and Streamable HTTP on libmicrohttpd
 * (mcp_http.c). Two protocol eras share the dispatcher: the legacy stateful one
 * (initialize; 2024-11-05 .. 2025-11-25) and the stateless 2026-07-28 one (per-request
 * _meta, server/discover). Tools never see transport details beyond mcp_call_ctx. */
#ifndef CB_MCP_H
#define CB_MCP_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util.h"

#define MCP_VERSION_MODERN "2026-07-28"
#define MCP_VERSION_LATEST_LEGACY "2025-11-25"
#define MCP_DEFAULT_MAX_MESSAGE (4u << 20) /* 4 MiB per JSON-RPC message */
#define MCP_MAX_BATCH 100 /* messages in one JSON-RPC batch (2025-03-26 only) */

/* JSON-RPC / MCP error codes. */
enum {
    MCP_PARSE_ERROR = -32700,
    MCP_INVALID_REQUEST = -32600,
    MCP_METHOD_NOT_FOUND = -32601,
    MCP_INVALID_PARAMS = -32602,
    MCP_INTERNAL_ERROR = -32603,
    MCP_SERVER_ERROR = -32000,          /* implementation-defined (SDK convention) */
    MCP_SESSION_NOT_FOUND = -32001,     /* SDK convention */
    MCP_HEADER_MISMATCH = -32020,       /* 2026-07-28 */
    MCP_UNSUPPORTED_VERSION = -32022    /* 2026-07-28 */
};

/* What a tool sees of the caller. Valid only during the call. */
typedef struct mcp_call_ctx {
    const char *principal;        /* authenticated client / policy name; "local" on stdio */
    const char *transport;        /* "stdio" | "http" */
    const char *session_id;       /* NULL when there is none (stdio, 2026-07-28 era) */
    const char *protocol_version; /* negotiated or per-request version */
    const char *client_name;      /* clientInfo.name when the client sent one, else NULL */
    void *app;                    /* the hooks' app pointer */
    /* A tool may set this to a JSON object (a new reference the layer takes over) that is
     * passed to the audit hook. Put only non-sensitive facts in it (names, counts). */
    json_t *audit_summary;
    /* A tool may hand over its structuredContent as JSON text written once (malloc'd; the
     * layer takes it over and wipes it): *structured is then only its shape (large arrays
     * left empty), validated against the output schema, and the text content is this
     * same serialization. Rows are never turned into a jansson tree. */
    char *structured_json;
} mcp_call_ctx;

/* A tool. All strings are static (the registry keeps the pointer). The schemas are JSON
 * text; input_schema_json NULL means {"type":"object","additionalProperties":false}.
 * call(): args is the validated arguments object (borrowed). On success return 0 and set
 * *structured (new reference, required when output_schema_json is set; it is validated
 * against it) and/or *text (malloc'd; defaults to the compact JSON of *structured). On a
 * tool failure return non-zero with e->msg set to a one-line, sanitized message: it goes
 * to the model as an isError result. */
typedef struct mcp_tool {
    const char *name;          /* [A-Za-z0-9_.-]{1,128}; underscores preferred */
    const char *title;         /* display name, may be NULL */
    const char *description;   /* required */
    const char *input_schema_json;
    const char *output_schema_json; /* NULL: no structuredContent */
    int read_only, destructive, idempotent, open_world; /* annotation hints */
    const char *const *aliases; /* NULL-terminated extra names (e.g. "security.rotateKey"), or NULL */
    int (*call)(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e);
} mcp_tool;

/* One finished tools/call, for the audit hook. outcome: "ok", "error" (tool failed),
 * "denied" (authorize refused), "invalid" (arguments failed the input schema),
 * "rate_limited" (mcp_server_set_call_limit). */
typedef struct mcp_audit_event {
    const char *principal, *transport, *session_id, *client_name;
    const char *tool;          /* canonical name, also when called by an alias */
    const char *outcome;
    const char *message;       /* error/deny text for non-ok outcomes, else NULL */
    int64_t duration_ms;
    json_t *summary;           /* tool's cx->audit_summary (borrowed), may be NULL */
} mcp_audit_event;

/* Hooks supplied by the application. Every pointer may be NULL except as noted. */
typedef struct mcp_hooks {
    void *app;
    /* Policy: return 0 to allow. Called with args == NULL when listing (may this principal
     * call the tool at all?) and with the validated args before every call. On refusal
     * set e->msg (shown to the model), return non-zero. NULL allows everything. */
    int (*authorize)(void *app, const char *principal, const char *tool, json_t *args, cb_error *e);
    /* Called after every tools/call of a known tool. */
    void (*audit)(void *app, const mcp_audit_event *ev);
    /* HTTP bearer check (required by mcp_http_start): return 0 and set *principal
     * (malloc'd) when the token is valid, else non-zero. Compare in constant time; the
     * token must never be logged or copied into e. */
    int (*authenticate)(void *app, const char *token, char **principal, cb_error *e);
    /* HTTP only: when set, a tools/call refused by authorize with e->kind CB_K_DENIED is
     * answered 403 with a JSON-RPC error (insufficient permission for this API key)
     * instead of a 200 isError result. Other refusal kinds (e.g. rate limits) stay isError. */
    int http_deny_403;
} mcp_hooks;

typedef struct mcp_server mcp_server;

mcp_server *mcp_server_new(const char *server_version, const char *instructions, const mcp_hooks *hooks);
void mcp_server_free(mcp_server *s);
/* Checks the name, aliases and schemas; fails on a duplicate name or alias. */
int mcp_server_add_tool(mcp_server *s, const mcp_tool *t, cb_error *e);
/* Messages in one JSON-RPC batch (default MCP_MAX_BATCH); a longer batch is refused whole
 * with -32600 (HTTP 400). */
void mcp_server_set_max_batch(mcp_server *s, int n);
/* tools/list page size (default 50, 1..1000). */
void mcp_server_set_page_size(mcp_server *s, int n);
const mcp_hooks *mcp_server_hooks(const mcp_server *s);
/* Per-principal tools/call rate limit (token bucket: burst `calls`, refilled over
 * `window_s`); 0 disables (default). Over the limit a call becomes an isError result
 * ("Rate limit exceeded ...") and is audited with outcome "rate_limited". Thread-safe. */
void mcp_server_set_call_limit(mcp_server *s, int calls, int window_s);

/* Protocol versions, newest first (includes 2026-07-28), NULL-terminated. */
extern const char *const mcp_supported_versions[];
int mcp_version_supported(const char *v);      /* any era */
int mcp_version_is_legacy(const char *v);      /* supported and uses initialize */

/* Legacy-era connection state (one per stdio process or HTTP session). */
typedef struct mcp_session {
    char id[65];              /* "" on stdio */
    char version[16];         /* negotiated version, "" before initialize */
    int initialized;          /* initialize answered */
    char client_name[64];
} mcp_session;

/* Per-message context from the transport. */
typedef struct mcp_conn {
    const char *principal;
    const char *transport;        /* "stdio" | "http" */
    mcp_session *session;         /* legacy state; may be NULL for 2026-07-28 requests */
    /* HTTP only (NULL elsewhere): header values checked against the body for 2026-07-28. */
    int http;
    const char *hdr_protocol_version, *hdr_method, *hdr_name;
} mcp_conn;

/* Message classification. */
enum { MCP_MSG_INVALID = 0, MCP_MSG_REQUEST, MCP_MSG_NOTIFICATION, MCP_MSG_RESPONSE, MCP_MSG_BATCH };

typedef struct mcp_msg {
    json_t *root;          /* parsed message (owned), NULL on a parse error */
    int kind;
    const char *method;    /* borrowed from root; NULL unless request/notification */
    int modern;            /* carries the 2026-07-28 _meta version, or is server/discover */
    const char *meta_version; /* _meta protocol version when present */
    json_t *error;         /* a ready error response when kind is INVALID (owned) */
} mcp_msg;

/* Parses one message; never fails (errors end up in m->error). Free with mcp_msg_free. */
void mcp_msg_parse(const char *data, size_t len, mcp_msg *m);
void mcp_msg_free(mcp_msg *m);

/* Dispatches a parsed message. Returns the response (new reference) or NULL when none is
 * due (notifications, responses, all-notification batches). *http_status receives the
 * status an HTTP transport should use (200, 202, 400, 404). */
json_t *mcp_dispatch(mcp_server *s, const mcp_conn *c, mcp_msg *m, int *http_status);

/* Parse + dispatch + compact serialization: a response line (malloc'd, no newline) or
 * NULL. Used by stdio and the fuzzer. */
char *mcp_handle_text(mcp_server *s, const mcp_conn *c, const char *data, size_t len);

/* Compact serialization of a response from mcp_dispatch (object or batch array), with a
 * tool's structured_json spliced in as structuredContent. Transports must use it instead
 * of json_dumps. malloc'd. */
char *mcp_response_dump(json_t *r);

/* Builds {"jsonrpc":"2.0","id":id,"error":{code,message[,data]}}; id may be NULL (null). */
json_t *mcp_error_response(json_t *id, int code, const char *message, json_t *data);

/* JSON Schema subset (type, properties, required, additionalProperties, enum, items,
 * minimum, maximum, minLength, maxLength, minItems, maxItems). Unknown keywords are
 * ignored. Returns 0 if v conforms, else -1 with a one-line reason in err. */
int mcp_schema_validate(json_t *schema, json_t *v, char *err, size_t errlen);
/* Same, naming the value `root` in messages (mcp_schema_validate uses "arguments"). */
int mcp_schema_validate_at(json_t *schema, json_t *v, const char *root, char *err, size_t errlen);
/* Checks that a schema only uses well-formed values for the keywords above. */
int mcp_schema_check(json_t *schema, char *err, size_t errlen);

/* stdio transport: serves until stdin EOF. Returns 0 on EOF, 1 on an I/O error. */
int mcp_stdio_serve(mcp_server *s, int in_fd, int out_fd, size_t max_message);

/* Streamable HTTP transport. */
typedef struct mcp_http_opts {
    const char *listen;          /* "127.0.0.1:8787", "[::1]:8787"; port 0 picks one */
    const char *tls_cert_pem;    /* PEM contents (not paths); both or neither */
    const char *tls_key_pem;
    const char *const *allowed_origins; /* exact Origin values allowed besides loopback ones */
    const char *const *allowed_hosts;   /* Host names allowed besides loopback names */
    size_t max_body;             /* default MCP_DEFAULT_MAX_MESSAGE */
    int max_sessions;            /* all keys together; default 4096 */
    int session_idle_s;          /* default 900 */
    int auth_fail_limit;         /* failures of one address or key id per window before 429; default 10 */
    int auth_fail_window_s;      /* default 60 */
    /* GET /metrics (metrics.h exposition): NULL token = open, else "Authorization: Bearer
     * <token>" compared in constant time; never the MCP API keys. */
    const char *metrics_token;
    /* GET /healthz: when set, returns 0 (200) or non-zero (503) and a JSON body (malloc'd);
     * NULL answers {"status":"ok"}. */
    int (*health)(void *arg, char **json);
    void *health_arg;
    int max_connections;         /* open connections; default 4096 (RLIMIT_NOFILE is raised to fit) */
    int max_sessions_per_key;    /* per bearer token; the key's own idle sessions make room; default 64 */
    int request_deadline_s;      /* a request must arrive whole within this; default 10 */
    size_t max_response;         /* bytes of one response; default 16 MiB */
    int workers;                 /* threads running requests (tool calls); default 32 */
    int max_inflight_per_key;    /* requests of one token being run at once (more: 429); default 3/4 of workers */
    int max_connections_per_ip;  /* 0 = no per-address cap (default: on loopback every client shares one) */
} mcp_http_opts;

/* The peer address of the HTTP request being handled on this thread ("127.0.0.1"), or
 * NULL outside one (stdio): for the audit and authentication hooks. */
const char *mcp_request_peer(void);

typedef struct mcp_http mcp_http;

/* Parses "host:port" / "[v6]:port" into a numeric address; 0 or -1. */
int mcp_parse_listen(const char *s, char *host, size_t hostlen, int *port, int *v6);
/* Starts serving in background threads; s must outlive the returned handle. */
mcp_http *mcp_http_start(mcp_server *s, const mcp_http_opts *o, cb_error *e);
int mcp_http_port(const mcp_http *h);
/* Stops accepting, waits for running requests, frees everything. Safe with NULL. */
void mcp_http_stop(mcp_http *h);
/* The whole life of an HTTP server for a CLI command: blocks SIGTERM/SIGINT (so every
 * server thread inherits the mask), starts, calls ready(h, arg) if given, waits for one
 * of those signals, then shuts down cleanly. Returns 0, or the start error's code. */
int mcp_http_run(mcp_server *s, const mcp_http_opts *o, void (*ready)(const mcp_http *h, void *arg), void *arg,
                 cb_error *e);

#endif
