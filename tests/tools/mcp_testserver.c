/* Test-only MCP server on the broker's MCP layer, for interop and transport tests:
 *   mcp_testserver stdio
 *   mcp_testserver http LISTEN [--tls-cert FILE --tls-key FILE] [--allow-origin O] [--allow-host H]
 * Tools: sum (outputSchema, alias math.sum), fail (always isError), slow (sleeps).
 * Auth (HTTP): bearer MCP_TEST_TOKEN -> principal "tester", MCP_TEST_TOKEN_LIMITED ->
 * "limited"; stdio principal is "local". Policy: "limited" may not call slow; sum with
 * a == 13 is refused for everyone (an argument-based rule). MCP_TEST_AUDIT=FILE appends
 * one JSON line per tool call; MCP_TEST_PAGE_SIZE sets the tools/list page size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "mcp/mcp.h"

static int tool_sum(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text; (void)e;
    double s = json_number_value(json_object_get(args, "a")) + json_number_value(json_object_get(args, "b"));
    *structured = json_pack("{s:f}", "sum", s);
    cx->audit_summary = json_pack("{s:i}", "operands", 2);
    return 0;
}

static int tool_fail(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)cx; (void)args; (void)structured; (void)text;
    return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "the operation failed as requested");
}

static int tool_slow(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)cx; (void)e;
    json_int_t ms = json_integer_value(json_object_get(args, "ms"));
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    *structured = json_pack("{s:I}", "slept_ms", ms);
    *text = cb_sprintf("slept %lld ms", (long long)ms);
    return 0;
}

static const char *const sum_aliases[] = {"math.sum", NULL};

static const mcp_tool TOOLS[] = {
    {"sum", "Add two numbers", "Adds a and b and returns {sum}.",
     "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}},"
     "\"required\":[\"a\",\"b\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"sum\":{\"type\":\"number\"}},\"required\":[\"sum\"],"
     "\"additionalProperties\":false}",
     1, 0, 1, 0, sum_aliases, tool_sum},
    {"fail", "Always fail", "Always returns a tool error (for testing isError).", NULL, NULL, 1, 0, 1, 0, NULL,
     tool_fail},
    {"slow", "Sleep", "Sleeps for ms milliseconds (0-5000).",
     "{\"type\":\"object\",\"properties\":{\"ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":5000}},"
     "\"required\":[\"ms\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"slept_ms\":{\"type\":\"integer\"}},\"required\":[\"slept_ms\"]}", 1, 0,
     1, 0, NULL, tool_slow},
};

static int authenticate(void *app, const char *token, char **principal, cb_error *e)
{
    (void)app;
    static const char *const envs[] = {"MCP_TEST_TOKEN", "MCP_TEST_TOKEN_LIMITED"};
    static const char *const names[] = {"tester", "limited"};
    size_t tl = strlen(token);
    for (int i = 0; i < 2; i++) {
        const char *want = getenv(envs[i]);
        if (want && *want && strlen(want) == tl && cb_ct_equal(want, token, tl)) {
            *principal = cb_strdup(names[i]);
            return 0;
        }
    }
    return cb_fail(e, CB_ERR, CB_K_DENIED, "invalid token");
}

static int authorize(void *app, const char *principal, const char *tool, json_t *args, cb_error *e)
{
    (void)app;
    if (!strcmp(principal, "limited") && !strcmp(tool, "slow"))
        return cb_fail(e, CB_ERR, CB_K_DENIED, "principal %s may not call %s", principal, tool);
    if (args && !strcmp(tool, "sum") && json_number_value(json_object_get(args, "a")) == 13)
        return cb_fail(e, CB_ERR, CB_K_DENIED, "policy forbids a = 13");
    return 0;
}

static void audit(void *app, const mcp_audit_event *ev)
{
    (void)app;
    const char *f = getenv("MCP_TEST_AUDIT");
    if (!f) return;
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s?,s:O?,s:s?}", "principal", ev->principal, "transport",
                          ev->transport, "tool", ev->tool, "outcome", ev->outcome, "ms", (json_int_t)ev->duration_ms,
                          "message", ev->message, "summary", ev->summary, "client", ev->client_name);
    FILE *fp = fopen(f, "a");
    if (fp && j) {
        char *t = json_dumps(j, JSON_COMPACT);
        fprintf(fp, "%s\n", t);
        free(t);
    }
    if (fp) fclose(fp);
    json_decref(j);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cb_buf b;
    cb_buf_init(&b, 1);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) cb_buf_append(&b, tmp, n);
    fclose(f);
    return cb_buf_steal(&b);
}

static void print_port(const mcp_http *h, void *arg)
{
    (void)arg;
    printf("port %d\n", mcp_http_port(h));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "stdio") && (strcmp(argv[1], "http") || argc < 3))) {
        fprintf(stderr, "usage: mcp_testserver stdio | http LISTEN [--tls-cert F --tls-key F] [--allow-origin O]\n");
        return 2;
    }
    if (getenv("MCP_TEST_VERBOSE")) cb_log_level = 3;
    mcp_hooks hk = {.app = NULL, .authorize = authorize, .audit = audit, .authenticate = authenticate};
    mcp_server *s = mcp_server_new("0.1.0-test", "Test server for credbroker's MCP layer.", &hk);
    cb_error e = {0};
    for (size_t i = 0; i < sizeof TOOLS / sizeof TOOLS[0]; i++)
        if (mcp_server_add_tool(s, &TOOLS[i], &e)) {
            fprintf(stderr, "mcp_testserver: %s\n", e.msg);
            return 1;
        }
    if (getenv("MCP_TEST_PAGE_SIZE")) mcp_server_set_page_size(s, atoi(getenv("MCP_TEST_PAGE_SIZE")));
    int rc = 0;
    if (!strcmp(argv[1], "stdio")) {
        rc = mcp_stdio_serve(s, 0, 1, 0);
    } else {
        mcp_http_opts o = {.listen = argv[2]};
        const char *origins[8] = {0}, *hosts[8] = {0};
        int no = 0, nh = 0;
        char *cert = NULL, *key = NULL;
        for (int i = 3; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--tls-cert")) cert = slurp(argv[i + 1]);
            else if (!strcmp(argv[i], "--tls-key")) key = slurp(argv[i + 1]);
            else if (!strcmp(argv[i], "--allow-origin") && no < 7) origins[no++] = argv[i + 1];
            else if (!strcmp(argv[i], "--allow-host") && nh < 7) hosts[nh++] = argv[i + 1];
        }
        o.tls_cert_pem = cert;
        o.tls_key_pem = key;
        o.allowed_origins = origins;
        o.allowed_hosts = hosts;
        if (getenv("MCP_TEST_MAX_BODY")) o.max_body = strtoul(getenv("MCP_TEST_MAX_BODY"), NULL, 10);
        if (getenv("MCP_TEST_INFLIGHT")) o.max_inflight_per_key = atoi(getenv("MCP_TEST_INFLIGHT"));
        rc = mcp_http_run(s, &o, print_port, NULL, &e);
        cb_free_secret(key);
        free(cert);
        if (rc) fprintf(stderr, "mcp_testserver: %s\n", e.msg);
    }
    mcp_server_free(s);
    return rc;
}
