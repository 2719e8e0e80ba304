/* What `serve` does besides answering MCP: SIGHUP reload, the security monitor pass and
 * its webhook, the /metrics token. */
#ifndef CB_SERVE_OPS_H
#define CB_SERVE_OPS_H
#include "mcp_app.h"

/* Re-reads the policies, credbroker.json and (from the store, on every request anyway)
 * the API keys. A file that does not load keeps the old one and logs the error; the
 * reload is audited (serve.reload). Returns 0 when everything reloaded. */
int serve_reload(mcp_app *a);
/* Runs the monitor when its interval has passed (CREDBROKER_MONITOR_INTERVAL_S, default
 * 60) over the last hour: updates security_findings, logs each finding not seen before
 * and posts it to the policy's monitoring.webhook. */
void serve_monitor_pass(mcp_app *a);
/* The /metrics bearer token from credbroker.json "metrics": {"token_ref": REF}, or NULL
 * (open). *token: cb_free_secret. Returns 0 or the fetch error. */
int serve_metrics_token(mcp_app *a, char **token, cb_error *e);
/* Frees what reloads retired (at close, when no request runs any more). */
void serve_ops_cleanup(mcp_app *a);

#endif
