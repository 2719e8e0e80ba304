/* Which class each MCP tool is in. The table lives with the policy because the policy is
 * what grants classes; broker/tools/ checks at startup that every tool whose annotations
 * say it changes something is in the write or admin class here (mcp_app_server). */
#include <stdlib.h>
#include <string.h>
#include "policy.h"

const char *const policy_admin_tools[] = {"security_rotate_key", "security_migrate_connections_to_encrypted",
                                          "security_generate_secure_key", "credentials_rotate",
                                          "credentials_emergency_rotate", NULL};
const char *const policy_write_tools[] = {"query_execute", NULL};

static int listed(const char *const *l, const char *s)
{
    for (size_t i = 0; l[i]; i++)
        if (!strcmp(l[i], s)) return 1;
    return 0;
}

policy_tool_class policy_tool_class_of(const char *tool)
{
    if (!tool) return POLICY_TOOL_ADMIN;
    if (listed(policy_admin_tools, tool)) return POLICY_TOOL_ADMIN;
    if (listed(policy_write_tools, tool)) return POLICY_TOOL_WRITE;
    return POLICY_TOOL_READ;
}

const char *policy_tool_class_name(policy_tool_class k)
{
    return k == POLICY_TOOL_ADMIN ? "admin" : k == POLICY_TOOL_WRITE ? "write" : "read-only";
}

size_t policy_client_lost_tools(const policy_client *c, const char ***out)
{
    *out = NULL;
    if (!c || !c->all_tools || c->admin_set) return 0;
    size_t n = 0;
    const char **v = cb_calloc(16, sizeof *v);
    for (size_t i = 0; policy_admin_tools[i] && n < 15; i++)
        if (!policy_client_may_call(c, policy_admin_tools[i])) v[n++] = policy_admin_tools[i];
    for (size_t i = 0; policy_write_tools[i] && n < 15; i++)
        if (!policy_client_may_call(c, policy_write_tools[i]) && c->mode == POLICY_READ_WRITE) v[n++] = policy_write_tools[i];
    if (!n) {
        free(v);
        return 0;
    }
    *out = v;
    return n;
}
