/* MCP protocol core: JSON-RPC errors, version negotiation, batches, the schema subset,
 * the registry, pagination, policy/audit hooks and 2026-07-28 requests from the spec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mcp/mcp.h"

static int n_audit;
static char last_outcome[32], last_tool[64];

static int t_add(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text; (void)e;
    assert_non_null(cx->principal);
    *structured = json_pack("{s:I}", "total", json_integer_value(json_object_get(args, "x")) +
                                                  json_integer_value(json_object_get(args, "y")));
    cx->audit_summary = json_pack("{s:s}", "k", "v");
    return 0;
}
static int t_broken(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)cx; (void)args; (void)text; (void)e;
    *structured = json_pack("{s:s}", "total", "not a number"); /* violates its outputSchema */
    return 0;
}
static int t_err(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)cx; (void)args; (void)structured; (void)text;
    return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "database unavailable");
}
static int t_text(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)cx; (void)args; (void)structured; (void)e;
    *text = cb_strdup("plain");
    return 0;
}

static const char *const add_alias[] = {"math.add", NULL};
#define OUT "{\"type\":\"object\",\"properties\":{\"total\":{\"type\":\"integer\"}},\"required\":[\"total\"]}"
static const mcp_tool T_ADD = {"add", "Add", "Adds x and y.",
    "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"},\"y\":{\"type\":\"integer\",\"minimum\":0}},"
    "\"required\":[\"x\",\"y\"],\"additionalProperties\":false}", OUT, 1, 0, 1, 0, add_alias, t_add};
static const mcp_tool T_BROKEN = {"broken", NULL, "Returns bad output.", NULL, OUT, 0, 1, 0, 1, NULL, t_broken};
static const mcp_tool T_ERR = {"err", NULL, "Fails.", NULL, NULL, 0, 1, 0, 1, NULL, t_err};
static const mcp_tool T_SECRET = {"secret_tool", NULL, "Denied to guests.", NULL, NULL, 1, 0, 0, 0, NULL, t_text};

static int authorize(void *app, const char *principal, const char *tool, json_t *args, cb_error *e)
{
    (void)app; (void)args;
    if (!strcmp(principal, "guest") && !strcmp(tool, "secret_tool")) return cb_fail(e, CB_ERR, CB_K_DENIED, "guests may not");
    return 0;
}
static void audit(void *app, const mcp_audit_event *ev)
{
    (void)app;
    n_audit++;
    snprintf(last_outcome, sizeof last_outcome, "%s", ev->outcome);
    snprintf(last_tool, sizeof last_tool, "%s", ev->tool);
    assert_true(ev->duration_ms >= 0);
}

static mcp_server *S;
static mcp_session SESS;
static mcp_conn C;

static int setup(void **st)
{
    (void)st;
    mcp_hooks h = {.authorize = authorize, .audit = audit};
    S = mcp_server_new("9.9", "hi", &h);
    cb_error e;
    assert_int_equal(mcp_server_add_tool(S, &T_ERR, &e), 0);
    assert_int_equal(mcp_server_add_tool(S, &T_ADD, &e), 0);
    assert_int_equal(mcp_server_add_tool(S, &T_BROKEN, &e), 0);
    assert_int_equal(mcp_server_add_tool(S, &T_SECRET, &e), 0);
    memset(&SESS, 0, sizeof SESS);
    C = (mcp_conn){.principal = "alice", .transport = "stdio", .session = &SESS};
    return 0;
}
static int teardown(void **st)
{
    (void)st;
    mcp_server_free(S);
    return 0;
}

/* Sends one message, returns the parsed response (NULL when none). */
static json_t *rpc(const char *msg)
{
    char *out = mcp_handle_text(S, &C, msg, strlen(msg));
    if (!out) return NULL;
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_null(strchr(out, '\n'));
    free(out);
    return j;
}
static json_int_t err_code(json_t *r)
{
    assert_non_null(r);
    return json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
}
static void init(const char *ver)
{
    memset(&SESS, 0, sizeof SESS);
    char buf[256];
    snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"ut\",\"version\":\"1\"}}}", ver);
    json_t *r = rpc(buf);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
}

static void test_jsonrpc_errors(void **st)
{
    (void)st;
    memset(&SESS, 0, sizeof SESS);
    json_t *r;
    r = rpc("{nope"); assert_int_equal(err_code(r), MCP_PARSE_ERROR); assert_true(json_is_null(json_object_get(r, "id"))); json_decref(r);
    r = rpc("42"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    r = rpc("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 1); json_decref(r);
    r = rpc("{\"id\":1,\"method\":\"ping\"}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":7}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":2}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":[1]}"); assert_int_equal(err_code(r), MCP_INVALID_PARAMS); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"id\":4}"); assert_int_equal(err_code(r), MCP_PARSE_ERROR); json_decref(r); /* duplicate key */
    /* ping works before initialize, anything else does not */
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    assert_string_equal(json_string_value(json_object_get(r, "id")), "p");
    assert_true(json_is_object(json_object_get(r, "result"))); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    /* notifications and responses are never answered, even when wrong */
    assert_null(rpc("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
    assert_null(rpc("{\"jsonrpc\":\"2.0\",\"method\":\"no/such\",\"params\":[1]}"));
    assert_null(rpc("{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}"));
    init("2025-11-25");
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/list\"}"); assert_int_equal(err_code(r), MCP_METHOD_NOT_FOUND); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"zzz\"}}"); assert_int_equal(err_code(r), MCP_INVALID_PARAMS);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "Unknown tool: zzz"); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{}}"); assert_int_equal(err_code(r), MCP_INVALID_PARAMS); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":[1]}}"); assert_int_equal(err_code(r), MCP_INVALID_PARAMS); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}"); assert_int_equal(err_code(r), MCP_INVALID_REQUEST); json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/list\",\"params\":{\"cursor\":\"!!\"}}"); assert_int_equal(err_code(r), MCP_INVALID_PARAMS); json_decref(r);
    /* a real-valued id is echoed */
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}"); assert_true(json_is_real(json_object_get(r, "id"))); json_decref(r);
    memset(&SESS, 0, sizeof SESS);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}"); assert_int_equal(err_code(r), MCP_INVALID_PARAMS); json_decref(r);
}

static json_t *find_tool_def(json_t *list, const char *name)
{
    size_t i; json_t *t;
    json_array_foreach(json_object_get(json_object_get(list, "result"), "tools"), i, t)
        if (!strcmp(json_string_value(json_object_get(t, "name")), name)) return t;
    return NULL;
}

static void test_negotiation(void **st)
{
    (void)st;
    static const struct { const char *ask, *got; int annotations, output, title; } V[] = {
        {"2025-11-25", "2025-11-25", 1, 1, 1}, {"2025-06-18", "2025-06-18", 1, 1, 1},
        {"2025-03-26", "2025-03-26", 1, 0, 0}, {"2024-11-05", "2024-11-05", 0, 0, 0},
        {"2099-01-01", "2025-11-25", 1, 1, 1}, {"2026-07-28", "2025-11-25", 1, 1, 1}, {"", "2025-11-25", 1, 1, 1}};
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        memset(&SESS, 0, sizeof SESS);
        char buf[256];
        snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\",\"capabilities\":{}}}", V[i].ask);
        json_t *r = rpc(buf), *res = json_object_get(r, "result");
        assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")), V[i].got);
        assert_string_equal(json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")), "credbroker");
        assert_string_equal(json_string_value(json_object_get(json_object_get(res, "serverInfo"), "version")), "9.9");
        assert_true(json_is_false(json_object_get(json_object_get(json_object_get(res, "capabilities"), "tools"), "listChanged")));
        assert_string_equal(json_string_value(json_object_get(res, "instructions")), "hi");
        json_decref(r);
        r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
        json_t *add = find_tool_def(r, "add");
        assert_non_null(add);
        assert_int_equal(json_object_get(add, "annotations") != NULL, V[i].annotations);
        assert_int_equal(json_object_get(add, "outputSchema") != NULL, V[i].output);
        assert_int_equal(json_object_get(add, "title") != NULL, V[i].title);
        if (V[i].annotations) {
            json_t *a = json_object_get(add, "annotations");
            assert_true(json_is_true(json_object_get(a, "readOnlyHint")));
            assert_true(json_is_false(json_object_get(a, "destructiveHint")));
            assert_true(json_is_true(json_object_get(json_object_get(find_tool_def(r, "err"), "annotations"), "destructiveHint")));
        }
        json_decref(r);
        r = rpc("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"x\":2,\"y\":3}}}");
        res = json_object_get(r, "result");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text")), "{\"total\":5}");
        assert_int_equal(json_object_get(res, "structuredContent") != NULL, V[i].output);
        assert_null(json_object_get(res, "isError"));
        json_decref(r);
        /* input validation: isError from 2025-11-25, -32602 before */
        r = rpc("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"x\":2}}}");
        if (strcmp(V[i].got, "2025-11-25") >= 0) {
            assert_true(json_is_true(json_object_get(json_object_get(r, "result"), "isError")));
        } else {
            assert_int_equal(err_code(r), MCP_INVALID_PARAMS);
        }
        json_decref(r);
    }
}

static void test_tools_call(void **st)
{
    (void)st;
    init("2025-11-25");
    json_t *r, *res;
    int before = n_audit;
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"math.add\",\"arguments\":{\"x\":1,\"y\":1}}}");
    res = json_object_get(r, "result");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "structuredContent"), "total")), 2);
    assert_string_equal(last_tool, "add"); /* audited under the canonical name */
    assert_string_equal(last_outcome, "ok");
    json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"x\":1,\"y\":-1}}}");
    res = json_object_get(r, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text")), "arguments.y: must be >= 0"));
    assert_string_equal(last_outcome, "invalid");
    json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"x\":1,\"y\":1,\"z\":1}}}");
    assert_true(json_is_true(json_object_get(json_object_get(r, "result"), "isError")));
    json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"err\"}}");
    res = json_object_get(r, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text")), "database unavailable");
    assert_string_equal(last_outcome, "error");
    json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"broken\",\"arguments\":null}}");
    res = json_object_get(r, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_null(json_object_get(res, "structuredContent"));
    json_decref(r);
    /* policy: guests do not see secret_tool and are refused when they call it */
    C.principal = "guest";
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\"}");
    assert_null(find_tool_def(r, "secret_tool"));
    assert_non_null(find_tool_def(r, "add"));
    json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"secret_tool\"}}");
    res = json_object_get(r, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text")), "Permission denied: guests may not");
    assert_string_equal(last_outcome, "denied");
    json_decref(r);
    C.principal = "alice";
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"secret_tool\"}}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(r, "result"), "content"), 0), "text")), "plain");
    json_decref(r);
    assert_int_equal(n_audit - before, 7);
}

static void test_pagination(void **st)
{
    (void)st;
    init("2025-11-25");
    mcp_server_set_page_size(S, 3);
    json_t *r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}"), *res = json_object_get(r, "result");
    json_t *tools = json_object_get(res, "tools");
    assert_int_equal(json_array_size(tools), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")), "add");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 1), "name")), "broken");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 2), "name")), "err");
    const char *cur = json_string_value(json_object_get(res, "nextCursor"));
    assert_non_null(cur);
    char buf[256];
    snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"cursor\":\"%s\"}}", cur);
    json_decref(r);
    r = rpc(buf);
    res = json_object_get(r, "result");
    assert_int_equal(json_array_size(json_object_get(res, "tools")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(res, "tools"), 0), "name")), "secret_tool");
    assert_null(json_object_get(res, "nextCursor"));
    json_decref(r);
    mcp_server_set_page_size(S, 50);
}

static void test_batch(void **st)
{
    (void)st;
    init("2025-11-25");
    json_t *r = rpc("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
    assert_int_equal(err_code(r), MCP_INVALID_REQUEST);
    json_decref(r);
    init("2025-03-26");
    r = rpc("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"},"
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"},3,"
            "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-03-26\"}}]");
    assert_true(json_is_array(r));
    assert_int_equal(json_array_size(r), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "id")), 1);
    assert_int_equal(err_code(json_array_get(r, 1)), MCP_METHOD_NOT_FOUND);
    assert_int_equal(err_code(json_array_get(r, 2)), MCP_INVALID_REQUEST);
    assert_int_equal(err_code(json_array_get(r, 3)), MCP_INVALID_REQUEST);
    json_decref(r);
    assert_null(rpc("[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]"));
    r = rpc("[]");
    assert_int_equal(err_code(r), MCP_INVALID_REQUEST);
    json_decref(r);
}

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{},\"io.modelcontextprotocol/clientInfo\":{\"name\":\"ut\",\"version\":\"1\"}}"

static json_t *modern(const mcp_conn *c, const char *msg, int *status)
{
    mcp_msg m;
    mcp_msg_parse(msg, strlen(msg), &m);
    json_t *r = mcp_dispatch(S, c, &m, status);
    mcp_msg_free(&m);
    return r;
}

static void test_modern(void **st)
{
    (void)st;
    mcp_conn c = {.principal = "alice", .transport = "stdio"}; /* no session, no initialize */
    int status;
    json_t *r = modern(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{" META "}}", &status);
    json_t *res = json_object_get(r, "result");
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(res, "supportedVersions"), 0)), "2026-07-28");
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "tools"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")), "credbroker");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    json_decref(r);
    r = modern(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{" META "}}", &status);
    res = json_object_get(r, "result");
    assert_true(json_integer_value(json_object_get(res, "ttlMs")) > 0);
    assert_string_equal(json_string_value(json_object_get(res, "cacheScope")), "private");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(res, "_meta"), "io.modelcontextprotocol/serverInfo"), "name")), "credbroker");
    assert_non_null(find_tool_def(r, "add"));
    assert_non_null(json_object_get(find_tool_def(r, "add"), "outputSchema"));
    json_decref(r);
    r = modern(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"x\":4,\"y\":5}," META "}}", &status);
    res = json_object_get(r, "result");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "structuredContent"), "total")), 9);
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    json_decref(r);
    /* ping and initialize do not exist in 2026-07-28 */
    r = modern(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":{" META "}}", &status);
    assert_int_equal(err_code(r), MCP_METHOD_NOT_FOUND);
    assert_int_equal(status, 404);
    json_decref(r);
    r = modern(&c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2030-01-01\"}}}", &status);
    assert_int_equal(err_code(r), MCP_UNSUPPORTED_VERSION);
    assert_int_equal(status, 400);
    json_t *data = json_object_get(json_object_get(r, "error"), "data");
    assert_string_equal(json_string_value(json_object_get(data, "requested")), "2030-01-01");
    assert_string_equal(json_string_value(json_array_get(json_object_get(data, "supported"), 0)), "2026-07-28");
    json_decref(r);
    r = modern(&c, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"," META "}}", &status);
    assert_int_equal(err_code(r), MCP_INVALID_PARAMS);
    json_decref(r);
    assert_null(modern(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{" META "}}", &status));
    /* HTTP header rules */
    mcp_conn h = {.principal = "alice", .transport = "http", .http = 1, .hdr_protocol_version = "2026-07-28",
                  .hdr_method = "tools/call", .hdr_name = "add"};
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"x\":1,\"y\":1}," META "}}";
    r = modern(&h, call, &status); assert_int_equal(status, 200); assert_non_null(json_object_get(r, "result")); json_decref(r);
    h.hdr_name = "=?base64?YWRk?="; /* "add" */
    r = modern(&h, call, &status); assert_int_equal(status, 200); json_decref(r);
    h.hdr_name = "err";
    r = modern(&h, call, &status); assert_int_equal(status, 400); assert_int_equal(err_code(r), MCP_HEADER_MISMATCH); json_decref(r);
    h.hdr_name = NULL;
    r = modern(&h, call, &status); assert_int_equal(err_code(r), MCP_HEADER_MISMATCH); json_decref(r);
    h.hdr_name = "add"; h.hdr_method = "tools/list";
    r = modern(&h, call, &status); assert_int_equal(err_code(r), MCP_HEADER_MISMATCH); json_decref(r);
    h.hdr_method = "tools/call"; h.hdr_protocol_version = "2025-11-25";
    r = modern(&h, call, &status); assert_int_equal(err_code(r), MCP_HEADER_MISMATCH); json_decref(r);
}

static void test_schema(void **st)
{
    (void)st;
    char err[256];
    json_t *sc = json_loads("{\"type\":\"object\",\"properties\":{"
        "\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
        "\"s\":{\"type\":\"string\",\"maxLength\":3,\"minLength\":1},"
        "\"e\":{\"enum\":[\"a\",\"b\"]},"
        "\"l\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"maxItems\":2},"
        "\"o\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"boolean\"}},"
        "\"u\":{\"type\":[\"string\",\"null\"]}},"
        "\"required\":[\"n\"],\"additionalProperties\":false}", 0, NULL);
    assert_int_equal(mcp_schema_check(sc, err, sizeof err), 0);
    static const struct { const char *v; int ok; const char *msg; } C2[] = {
        {"{\"n\":1}", 1, ""}, {"{\"n\":1.0}", 1, ""}, {"{\"n\":1.5}", 0, "arguments.n: expected integer, got number"},
        {"{}", 0, "arguments: missing required property 'n'"}, {"{\"n\":0}", 0, "arguments.n: must be >= 1"},
        {"{\"n\":11}", 0, "arguments.n: must be <= 10"}, {"{\"n\":1,\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", 1, ""},
        {"{\"n\":1,\"s\":\"abcd\"}", 0, "arguments.s: longer than 3 characters"}, {"{\"n\":1,\"s\":\"\"}", 0, "arguments.s: shorter than 1 characters"},
        {"{\"n\":1,\"e\":\"c\"}", 0, "arguments.e: value is not one of the allowed values"}, {"{\"n\":1,\"e\":\"b\"}", 1, ""},
        {"{\"n\":1,\"l\":[1,\"x\"]}", 0, "arguments.l[1]: expected number, got string"}, {"{\"n\":1,\"l\":[1,2,3]}", 0, "arguments.l: too many items"},
        {"{\"n\":1,\"o\":{\"k\":1}}", 0, "arguments.o.k: expected boolean, got integer"}, {"{\"n\":1,\"o\":{\"k\":true}}", 1, ""},
        {"{\"n\":1,\"u\":null}", 1, ""}, {"{\"n\":1,\"u\":2}", 0, "arguments.u: unexpected type integer"},
        {"{\"n\":1,\"zz\":1}", 0, "arguments: unexpected property 'zz'"}, {"[]", 0, "arguments: expected object, got array"}};
    for (size_t i = 0; i < sizeof C2 / sizeof C2[0]; i++) {
        json_t *v = json_loads(C2[i].v, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        int rc = mcp_schema_validate(sc, v, err, sizeof err);
        if (C2[i].ok) assert_int_equal(rc, 0);
        else { assert_int_equal(rc, -1); assert_string_equal(err, C2[i].msg); }
        json_decref(v);
    }
    json_decref(sc);
    static const char *const bad[] = {"{\"type\":\"strin\"}", "{\"required\":\"a\"}", "{\"properties\":[]}",
                                      "{\"maxLength\":-1}", "{\"minimum\":\"1\"}", "{\"enum\":1}", "{\"items\":3}",
                                      "{\"properties\":{\"a\":{\"type\":7}}}", NULL};
    for (int i = 0; bad[i]; i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        assert_int_equal(mcp_schema_check(b, err, sizeof err), -1);
        json_decref(b);
    }
}

static void test_registry(void **st)
{
    (void)st;
    mcp_server *s = mcp_server_new("1", NULL, NULL);
    cb_error e;
    mcp_tool t = T_ADD;
    assert_int_equal(mcp_server_add_tool(s, &t, &e), 0);
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0); /* duplicate */
    t.name = "other"; /* alias math.add again */
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0);
    t.aliases = NULL; t.name = "math.add"; /* name equal to an alias */
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0);
    t.name = "bad name";
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0);
    t.name = "ok_name"; t.description = NULL;
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0);
    t.description = "d"; t.input_schema_json = "{";
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0);
    t.input_schema_json = "{\"type\":\"array\"}";
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0);
    assert_non_null(strstr(e.msg, "inputSchema"));
    t.input_schema_json = NULL; t.output_schema_json = "{\"type\":\"object\",\"required\":5}";
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0);
    t.output_schema_json = NULL;
    assert_int_equal(mcp_server_add_tool(s, &t, &e), 0);
    char n129[130];
    memset(n129, 'a', 129); n129[129] = 0;
    t.name = n129;
    assert_int_not_equal(mcp_server_add_tool(s, &t, &e), 0);
    mcp_server_free(s);
}

static void test_call_limit(void **st)
{
    (void)st;
    init("2025-11-25");
    mcp_server_set_call_limit(S, 2, 60);
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"x\":1,\"y\":1}}}";
    for (int i = 0; i < 2; i++) {
        json_t *r = rpc(call);
        assert_null(json_object_get(json_object_get(r, "result"), "isError"));
        json_decref(r);
    }
    json_t *r = rpc(call), *res = json_object_get(r, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text")),
                           "Rate limit exceeded for alice: retry in 30 s"));
    assert_string_equal(last_outcome, "rate_limited");
    json_decref(r);
    C.principal = "bob"; /* buckets are per principal */
    r = rpc(call);
    assert_null(json_object_get(json_object_get(r, "result"), "isError"));
    json_decref(r);
    C.principal = "alice";
    mcp_server_set_call_limit(S, 0, 0);
    r = rpc(call);
    assert_null(json_object_get(json_object_get(r, "result"), "isError"));
    json_decref(r);
}

static void test_listen_parse(void **st)
{
    (void)st;
    char h[64]; int p, v6;
    assert_int_equal(mcp_parse_listen("127.0.0.1:8787", h, sizeof h, &p, &v6), 0);
    assert_string_equal(h, "127.0.0.1"); assert_int_equal(p, 8787); assert_int_equal(v6, 0);
    assert_int_equal(mcp_parse_listen("[::1]:0", h, sizeof h, &p, &v6), 0);
    assert_string_equal(h, "::1"); assert_int_equal(p, 0); assert_int_equal(v6, 1);
    assert_int_equal(mcp_parse_listen("localhost:80", h, sizeof h, &p, &v6), 0);
    assert_string_equal(h, "127.0.0.1");
    static const char *const bad[] = {"", "8787", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "[::1]8787",
                                      "::1:8787", "example.com:80", "127.0.0.1:8x", "[::1:80", NULL};
    for (int i = 0; bad[i]; i++) assert_int_equal(mcp_parse_listen(bad[i], h, sizeof h, &p, &v6), -1);
}

static void test_stdio(void **st)
{
    (void)st;
    char in_path[] = "/tmp/mcp_in.XXXXXX", out_path[] = "/tmp/mcp_out.XXXXXX";
    int in = mkstemp(in_path), out = mkstemp(out_path);
    assert_true(in >= 0 && out >= 0);
    FILE *f = fdopen(dup(in), "w");
    fputs("\n  \n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n", f);
    fputs("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"params\":{\"p\":\"", f);
    for (int i = 0; i < 2000; i++) fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", f); /* 100 kB */
    fputs("\"}}\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n", f);
    fputs("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}", f); /* last line without newline */
    fclose(f);
    lseek(in, 0, SEEK_SET);
    assert_int_equal(mcp_stdio_serve(S, in, out, 50000), 0);
    char buf[4096] = {0};
    assert_true(pread(out, buf, sizeof buf - 1, 0) > 0);
    assert_string_equal(buf, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"
                             "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error: message too large\"}}\n"
                             "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n");
    close(in); close(out);
    unlink(in_path); unlink(out_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonrpc_errors), cmocka_unit_test(test_negotiation), cmocka_unit_test(test_tools_call),
        cmocka_unit_test(test_pagination), cmocka_unit_test(test_batch), cmocka_unit_test(test_modern),
        cmocka_unit_test(test_schema), cmocka_unit_test(test_registry), cmocka_unit_test(test_call_limit), cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_stdio),
    };
    cb_log_level = 0;
    return cmocka_run_group_tests(tests, setup, teardown);
}
