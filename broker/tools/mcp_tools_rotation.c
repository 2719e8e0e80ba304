/* MCP tools credentials_rotate and credentials_emergency_rotate, and the bridge to the
 * rotation engine they call through mcp_app's rotate hook (a seam tests replace). Each
 * engine call opens its own store handle, policy and config (rotation_env), so the
 * engine never shares the server's SQLite handle. */
#include <stdlib.h>
#include "mcp_app.h"
#include "rotation/emergency.h"
#include "rotation/rotation.h"
#include "rotation/rotation_env.h"

int mcp_rotation_adapter(void *arg, const char *credential, int emergency, const char *incident,
                         const char *reason, int revoke_api_keys, const char *actor, json_t **report, cb_error *e)
{
    const cb_paths *ctx = arg;
    rotation_env v;
    int rc = rotation_env_open(ctx, &v, e);
    if (rc) return rc;
    if (!emergency) {
        rotation_opts o = {.actor = actor};
        json_t *rep = json_object();
        rc = rotation_run(v.s, v.p, v.cfg, credential, &o, rep, e);
        *report = rep;
    } else {
        json_t *names = json_pack("[s]", credential), *rec = NULL, *reps = NULL;
        int ok = emergency_run(v.s, v.p, v.cfg, actor, names, incident, reason, revoke_api_keys, &rec, &reps);
        json_object_set_new(rec, "rotations", reps);
        *report = rec;
        json_decref(names);
        if (!ok) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "emergency rotation of %s was not completed (see the incident record)", credential);
    }
    rotation_env_close(&v);
    return rc;
}

/* ---- credentials_rotate / credentials_emergency_rotate ---- */

static int rotate_common(mcp_call_ctx *cx, json_t *args, json_t **structured, cb_error *e, int emergency)
{
    mcp_app *a = cx->app;
    const char *cred = json_string_value(json_object_get(args, "credential"));
    const char *incident = json_string_value(json_object_get(args, "incident"));
    const char *reason = json_string_value(json_object_get(args, "reason"));
    int revoke = json_is_true(json_object_get(args, "revoke_api_keys"));
    cx->audit_summary = json_pack("{s:s,s:b,s:s?,s:s?,s:b}", "credential", cred, "emergency", emergency, "incident",
                                  incident, "reason", reason, "revoke_api_keys", revoke);
    if (!a->rotate) return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "rotation is not available in this build");
    char *actor = cb_sprintf("mcp:%s", cx->principal);
    json_t *report = NULL;
    int rc = a->rotate(a->rotate_arg, cred, emergency, incident, reason, revoke, actor, &report, e);
    free(actor);
    if (rc) {
        json_decref(report);
        return mcp_sanitize_error(e, NULL);
    }
    if (!json_is_object(report)) {
        json_decref(report);
        report = json_object();
    }
    json_object_set_new(report, "credential", json_string(cred));
    json_object_set_new(report, "emergency", json_boolean(emergency));
    *structured = report;
    return 0;
}

static int t_cred_rotate(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    return rotate_common(cx, args, structured, e, 0);
}

static int t_cred_emergency(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    return rotate_common(cx, args, structured, e, 1);
}

/* ---- registration ---- */

static const mcp_tool ROTATE_TOOLS[] = {
    {"credentials_rotate", "Rotate a database credential",
     "Rotates the password of a credential defined in the policy (create pending, set in the database, test, "
     "promote). The new password is never shown.",
     "{\"type\":\"object\",\"properties\":{\"credential\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"
     "\"reason\":{\"type\":\"string\",\"maxLength\":1000}},\"required\":[\"credential\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"credential\":{\"type\":\"string\"},\"emergency\":{\"type\":\"boolean\"}},"
     "\"required\":[\"credential\",\"emergency\"]}",
     0, 1, 0, 1, NULL, t_cred_rotate},
    {"credentials_emergency_rotate", "Emergency credential rotation",
     "Incident response: rotates the credential now, terminates its user's sessions, optionally revokes every API "
     "key, and records the incident in the audit log. incident and reason are required.",
     "{\"type\":\"object\",\"properties\":{\"credential\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"
     "\"incident\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},\"reason\":{\"type\":\"string\","
     "\"minLength\":1,\"maxLength\":1000},\"revoke_api_keys\":{\"type\":\"boolean\"}},"
     "\"required\":[\"credential\",\"incident\",\"reason\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"credential\":{\"type\":\"string\"},\"emergency\":{\"type\":\"boolean\"}},"
     "\"required\":[\"credential\",\"emergency\"]}",
     0, 1, 0, 1, NULL, t_cred_emergency},
};

/* offered only when a rotation engine is wired (mcp_app.rotate) */
const mcp_tool_set mcp_tools_rotation = {ROTATE_TOOLS, sizeof ROTATE_TOOLS / sizeof ROTATE_TOOLS[0], 1};
