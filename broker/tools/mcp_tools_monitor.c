/* MCP tool security_monitor: the security monitor's findings (monitor/monitor.h) with
 * the running server's live counters. For admin clients: the policy grants it by name. */
#include <string.h>
#include "mcp_app.h"
#include "monitor/monitor.h"
#include "obs.h"

static int t_security_monitor(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    mcp_app *a = cx->app;
    const char *since = json_string_value(json_object_get(args, "since"));
    int64_t window = 86400;
    if (since && monitor_parse_duration(since, &window))
        return cb_fail(e, CB_ERR, CB_K_INVALID, "since: not a duration (90s, 30m, 24h, 7d; at most 366d)");
    monitor_counters ctr = {.have = 1, .pool_saturated = obs_pool_saturated_total(), .pool_waiting = obs_pool_waiting(),
                            .pool_max = a->pool_n};
    json_t *f = NULL;
    mcp_app_audit_flush(a);
    pthread_mutex_lock(&a->store_mu);
    int rc = monitor_analyze(a->store, a->pol, cb_now(), window, &ctr, &f, e);
    pthread_mutex_unlock(&a->store_mu);
    if (rc) return mcp_sanitize_error(e, NULL);
    cx->audit_summary = json_pack("{s:I}", "findings", (json_int_t)json_array_size(f));
    *structured = json_pack("{s:I,s:o}", "window_s", (json_int_t)window, "findings", f);
    return 0;
}

static const mcp_tool MONITOR_TOOLS[] = {
    {"security_monitor", "Security monitor",
     "Security findings of credbroker over a window (default 24h): failed authentications per address, call rates far "
     "above a client's baseline, large exports, clients seen from new addresses, statement timeouts and refused "
     "statements, connection-pool saturation, failed or overdue scheduled rotations. Each finding has a kind, a "
     "severity, a subject and its evidence; never a secret.",
     "{\"type\":\"object\",\"properties\":{\"since\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":12,"
     "\"description\":\"window: 90s, 30m, 24h, 7d\"}},\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"window_s\":{\"type\":\"integer\"},\"findings\":{\"type\":\"array\","
     "\"items\":{\"type\":\"object\",\"properties\":{\"kind\":{\"type\":\"string\"},\"severity\":{\"type\":\"string\"},"
     "\"subject\":{\"type\":\"string\"},\"summary\":{\"type\":\"string\"},\"evidence\":{\"type\":\"object\"}},"
     "\"required\":[\"kind\",\"severity\",\"subject\",\"summary\",\"evidence\"]}}},\"required\":[\"window_s\","
     "\"findings\"]}",
     1, 0, 1, 0, NULL, t_security_monitor},
};

const mcp_tool_set mcp_tools_monitor = {MONITOR_TOOLS, sizeof MONITOR_TOOLS / sizeof MONITOR_TOOLS[0], 0};
