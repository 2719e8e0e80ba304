/* credbroker's product metrics (the series behind GET /metrics, mcp/metrics.h renders
 * them) and the /healthz checks. Series (all prefixed credbroker_):
 *   tool_calls_total{tool,client,outcome}        tool_call_duration_seconds{tool} (histogram)
 *   auth_failures_total{reason}                  pool_sessions{state="in_use"|"idle"}
 *   pool_waiting (obs_pool_waiting_set)          pool_saturated_total
 *   leases_active{connection} (obs_leases_set)   audit_queue_depth
 *   rotations_total{credential,outcome}          rotation_last_success_age_seconds{credential}
 *   rotation_next_run_seconds{credential}        rotation_overdue{credential}
 *   schedules_missed                             scheduler_last_tick_age_seconds
 *   security_findings{kind}                      reloads_total{outcome}
 *   scheduler_leader (1 on the broker holding the scheduler lock)   broker_info{broker="host:pid"}
 * Counters live for the process; gauges are read at scrape time from the app. */
#ifndef CB_TOOLS_OBS_H
#define CB_TOOLS_OBS_H
#include <jansson.h>
#include "mcp/mcp.h"

struct mcp_app;

/* Registers every series (idempotent) and the scrape-time collector of app. */
void obs_attach(struct mcp_app *a);
void obs_detach(struct mcp_app *a);

void obs_tool_call(const mcp_audit_event *ev);
void obs_auth_failure(const char *reason);
void obs_pool_saturated(void);
/* For the code that owns the source (the pool's wait queue, issue 12; leases, issue 10):
 * the current number of callers waiting for a pooled session, of active leases. */
void obs_pool_waiting_set(int n);
void obs_leases_set(const char *connection, int n);
void obs_reload(int ok);
/* The scheduler's pass finished (ok = 0 when it could not run); interval for health. */
void obs_tick_done(int rc);
void obs_set_tick_interval(int seconds);
/* The monitor's current findings (array): security_findings{kind} counts. */
void obs_findings_set(json_t *findings);
/* Live counters for the monitor. */
double obs_pool_saturated_total(void);
double obs_pool_waiting(void);

/* mcp_http_opts.health: store, key, scheduler, last tick age. */
int obs_health(void *app, char **json);

#endif
