/* libFuzzer: arbitrary bytes through the MCP JSON-RPC dispatcher, with a few tools
 * registered (schema validation, aliases, structured output, errors). The first byte picks
 * the connection state so the legacy (before/after initialize, 2025-03-26 batches) and
 * 2026-07-28 paths, including HTTP header checks, are all reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mcp/mcp.h"

static int t_sum(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)cx; (void)text; (void)e;
    *structured = json_pack("{s:f}", "sum", json_number_value(json_object_get(args, "a")) +
                                             json_number_value(json_object_get(args, "b")));
    return 0;
}
static int t_fail(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)cx; (void)args; (void)structured; (void)text;
    return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "failed");
}
static const char *const aliases[] = {"math.sum", NULL};
static const mcp_tool TOOLS[] = {
    {"sum", "Sum", "Adds.", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\",\"maximum\":1e9},"
     "\"b\":{\"type\":\"number\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":4}},"
     "\"mode\":{\"enum\":[\"x\",\"y\"]}},\"required\":[\"a\",\"b\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"sum\":{\"type\":\"number\"}},\"required\":[\"sum\"]}", 1, 0, 1, 0,
     aliases, t_sum},
    {"fail", NULL, "Fails.", NULL, NULL, 0, 1, 0, 1, NULL, t_fail},
};
static int authorize(void *app, const char *p, const char *tool, json_t *args, cb_error *e)
{
    (void)app; (void)p; (void)args;
    return strcmp(tool, "fail") ? 0 : cb_fail(e, 1, CB_K_DENIED, "no");
}
static mcp_server *S;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!S) {
        cb_log_level = -1;
        mcp_hooks h = {.authorize = authorize};
        S = mcp_server_new("f", "i", &h);
        cb_error e;
        for (size_t i = 0; i < 2; i++) mcp_server_add_tool(S, &TOOLS[i], &e);
        mcp_server_set_page_size(S, 1);
    }
    if (!size) return 0;
    uint8_t mode = data[0];
    mcp_session sess;
    memset(&sess, 0, sizeof sess);
    static const char *const vers[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
    if (mode & 1) {
        sess.initialized = 1;
        strcpy(sess.version, vers[(mode >> 1) & 3]);
    }
    mcp_conn c = {.principal = "fz", .transport = (mode & 8) ? "http" : "stdio", .session = (mode & 16) ? NULL : &sess,
                  .http = (mode & 8) != 0, .hdr_protocol_version = (mode & 32) ? "2026-07-28" : NULL,
                  .hdr_method = (mode & 64) ? "tools/call" : "tools/list", .hdr_name = (mode & 128) ? "=?base64?c3Vt?=" : "sum"};
    char *out = mcp_handle_text(S, &c, (const char *)data + 1, size - 1);
    if (out) {
        json_t *j = json_loads(out, 0, NULL); /* every answer must be valid JSON */
        if (!j) abort();
        json_decref(j);
        free(out);
    }
    return 0;
}
