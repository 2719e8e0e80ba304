/* MCP audit tool: audit_recent, the newest entries of the hash-chained audit log
 * (entries never hold secrets). */
#include <string.h>
#include "store/audit.h"
#include "mcp_app.h"

static int t_audit_recent(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    mcp_app *a = cx->app;
    json_t *lj = json_object_get(args, "limit");
    int limit = lj ? (int)json_integer_value(lj) : 50;
    json_t *out = NULL;
    mcp_app_audit_flush(a); /* read your own calls */
    pthread_mutex_lock(&a->store_mu);
    int rc = audit_list(a->store, limit, 0, &out, e);
    pthread_mutex_unlock(&a->store_mu);
    if (rc) return rc;
    /* audit_list returns the last `limit` entries oldest first; newest first reads better */
    json_t *rev = json_array();
    for (size_t i = json_array_size(out); i > 0; i--) {
        json_t *en = json_array_get(out, i - 1);
        json_object_del(en, "hash");
        json_object_del(en, "prev_hash");
        json_array_append(rev, en);
    }
    json_decref(out);
    cx->audit_summary = json_pack("{s:I}", "entries", (json_int_t)json_array_size(rev));
    *structured = json_pack("{s:o}", "entries", rev);
    return 0;
}

static const mcp_tool AUDIT_TOOLS[] = {
    {"audit_recent", "Recent audit entries",
     "The newest entries of credbroker's tamper-evident audit log (newest first): time, actor, action, target, "
     "outcome, duration and details. Entries never contain secrets.",
     "{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500}},"
     "\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"entries\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}},"
     "\"required\":[\"entries\"]}",
     1, 0, 1, 0, NULL, t_audit_recent},
};

const mcp_tool_set mcp_tools_audit = {AUDIT_TOOLS, sizeof AUDIT_TOOLS / sizeof AUDIT_TOOLS[0], 0};
