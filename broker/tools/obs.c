/* Product metrics and health checks (see obs.h). */
#include "obs.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mcp/metrics.h"
#include "mcp_app.h"
#include "mcp_audit.h"
#include "monitor/monitor.h"
#include "rotation/leader.h"
#include "rotation/schedule_state.h"

static mx_family *f_calls, *f_dur, *f_auth, *f_pool, *f_wait, *f_sat, *f_leases, *f_queue, *f_rot, *f_rot_age,
    *f_rot_next, *f_overdue, *f_missed, *f_tick_age, *f_findings, *f_reloads, *f_leader, *f_broker;
static pthread_mutex_t obs_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_tick_ms, started_ms, rot_scanned_id;
static int tick_interval_s, tick_failed;

static void obs_register(void)
{
    if (f_calls) return;
    f_calls = mx_register("credbroker_tool_calls_total", MX_COUNTER, "MCP tool calls by tool, client and outcome",
                          "tool,client,outcome", NULL, 0);
    f_dur = mx_register("credbroker_tool_call_duration_seconds", MX_HISTOGRAM, "MCP tool call latency", "tool", NULL, 0);
    f_auth = mx_register("credbroker_auth_failures_total", MX_COUNTER, "Failed HTTP authentications", "reason", NULL, 0);
    f_pool = mx_register("credbroker_pool_sessions", MX_GAUGE, "Pooled database sessions by state", "state", NULL, 0);
    f_wait = mx_register("credbroker_pool_waiting", MX_GAUGE, "Callers waiting for a pooled database session", "", NULL, 0);
    f_sat = mx_register("credbroker_pool_saturated_total", MX_COUNTER,
                        "Session acquisitions that found every pooled session busy", "", NULL, 0);
    f_leases = mx_register("credbroker_leases_active", MX_GAUGE, "Active database credential leases", "connection", NULL, 0);
    f_queue = mx_register("credbroker_audit_queue_depth", MX_GAUGE, "Audit rows queued, not yet committed", "", NULL, 0);
    f_rot = mx_register("credbroker_rotations_total", MX_COUNTER, "Rotations by credential and outcome (audit log)",
                        "credential,outcome", NULL, 0);
    f_rot_age = mx_register("credbroker_rotation_last_success_age_seconds", MX_GAUGE,
                            "Seconds since the credential's last successful rotation", "credential", NULL, 0);
    f_rot_next = mx_register("credbroker_rotation_next_run_seconds", MX_GAUGE,
                             "Seconds until the next scheduled rotation (negative: the slot has passed)", "credential",
                             NULL, 0);
    f_overdue = mx_register("credbroker_rotation_overdue", MX_GAUGE,
                            "1 when a scheduled rotation has not succeeded within its slot plus grace", "credential", NULL, 0);
    f_missed = mx_register("credbroker_schedules_missed", MX_GAUGE, "Scheduled rotations overdue now", "", NULL, 0);
    f_tick_age = mx_register("credbroker_scheduler_last_tick_age_seconds", MX_GAUGE,
                             "Seconds since the scheduler's last pass", "", NULL, 0);
    f_findings = mx_register("credbroker_security_findings", MX_GAUGE, "Current security monitor findings by kind",
                             "kind", NULL, 0);
    f_reloads = mx_register("credbroker_reloads_total", MX_COUNTER, "SIGHUP reloads by outcome", "outcome", NULL, 0);
    /* which broker of a fleet runs the scheduler: 1 on the leader, 0 on the others; the
     * info series names this broker, so a dashboard joins the two */
    f_leader = mx_register("credbroker_scheduler_leader", MX_GAUGE,
                           "1 when this broker holds the scheduler lock (runs scheduled rotations and lease expiry)", "",
                           NULL, 0);
    f_broker = mx_register("credbroker_broker_info", MX_GAUGE, "This broker's id (host:pid), value 1", "broker", NULL, 0);
    for (int i = 0; monitor_kinds[i]; i++) mx_set(f_findings, 0, (const char *const[]){monitor_kinds[i]});
    mx_set(f_wait, 0, NULL);
    mx_add(f_sat, 0, NULL);
    mx_set(f_queue, 0, NULL);
    mx_add(f_auth, 0, (const char *const[]){"invalid_key"});
}

/* New rotation rows of the audit log since the last scrape (the log is append-only,
 * so the counts only grow). */
static void scan_rotations(mcp_app *a)
{
    sdb_stmt *st;
    if (sdb_prepare(store_db(a->store), "SELECT id, COALESCE(target,''), outcome FROM audit WHERE id > ? AND"
                                               " action LIKE 'rotate%' ORDER BY id", &st) != SDB_OK)
        return;
    sdb_bind_int64(st, 1, rot_scanned_id);
    while (sdb_step(st) == SDB_ROW) {
        rot_scanned_id = sdb_column_int64(st, 0);
        mx_add(f_rot, 1, (const char *const[]){(const char *)sdb_column_text(st, 1),
                                               (const char *)sdb_column_text(st, 2)});
    }
    sdb_finalize(st);
}

static void schedules(mcp_app *a)
{
    mx_reset(f_rot_age);
    mx_reset(f_rot_next);
    mx_reset(f_overdue);
    const cb_policy *p = a->pol;
    int64_t now = cb_now();
    int missed = 0;
    for (size_t i = 0; p && i < p->ncredentials; i++) {
        const policy_credential *c = &p->credentials[i];
        schedule_state st;
        cb_error e = {0};
        if (schedule_state_get(a->store, c->name, &st, &e)) continue;
        const char *const lv[] = {c->name};
        if (st.last_success) mx_set(f_rot_age, (double)(now - st.last_success), lv);
        if (c->schedule) {
            if (!st.found) st.first_seen = now;
            int64_t next = 0;
            int due = schedule_compute(c, &st, now, &next, &e);
            if (due >= 0) {
                int over = due == 1 && now - next > p->monitoring.rotation_grace_s;
                mx_set(f_rot_next, (double)(next - now), lv);
                mx_set(f_overdue, over, lv);
                missed += over;
            }
        }
        schedule_state_free(&st);
    }
    mx_set(f_missed, missed, NULL);
}

static void collect(void *arg)
{
    mcp_app *a = arg;
    int in_use = 0, idle = 0;
    pthread_mutex_lock(&a->pool_mu);
    for (int i = 0; i < a->pool_n; i++) {
        if (a->pool[i].in_use) in_use++;
        else if (a->pool[i].conn) idle++;
    }
    pthread_mutex_unlock(&a->pool_mu);
    mx_set(f_pool, in_use, (const char *const[]){"in_use"});
    mx_set(f_pool, idle, (const char *const[]){"idle"});
    int q = mcp_audit_queue_len(a->audit);
    mx_set(f_queue, q, NULL);
    pthread_mutex_lock(&a->store_mu);
    pthread_mutex_lock(&obs_mu);
    scan_rotations(a);
    pthread_mutex_unlock(&obs_mu);
    schedules(a);
    pthread_mutex_unlock(&a->store_mu);
    pthread_mutex_lock(&obs_mu);
    int64_t t = last_tick_ms ? last_tick_ms : started_ms;
    pthread_mutex_unlock(&obs_mu);
    mx_set(f_tick_age, (double)(cb_now_ms() - t) / 1000.0, NULL);
    mx_set(f_leader, leader_is(), NULL);
    mx_set(f_broker, 1, (const char *const[]){leader_self_id()});
}

void obs_attach(mcp_app *a)
{
    obs_register();
    pthread_mutex_lock(&obs_mu);
    if (!started_ms) started_ms = cb_now_ms();
    pthread_mutex_unlock(&obs_mu);
    mx_add_collector(collect, a);
}

void obs_detach(mcp_app *a) { mx_remove_collector(collect, a); }

void obs_tool_call(const mcp_audit_event *ev)
{
    obs_register();
    const char *const lv[] = {ev->tool, ev->principal ? ev->principal : "", ev->outcome};
    mx_add(f_calls, 1, lv);
    mx_observe(f_dur, (double)ev->duration_ms / 1000.0, (const char *const[]){ev->tool});
}

void obs_auth_failure(const char *reason)
{
    obs_register();
    mx_add(f_auth, 1, (const char *const[]){reason});
}

void obs_pool_saturated(void)
{
    obs_register();
    mx_add(f_sat, 1, NULL);
}

void obs_pool_waiting_set(int n)
{
    obs_register();
    mx_set(f_wait, n, NULL);
}

void obs_leases_set(const char *connection, int n)
{
    obs_register();
    mx_set(f_leases, n, (const char *const[]){connection});
}

void obs_reload(int ok)
{
    obs_register();
    mx_add(f_reloads, 1, (const char *const[]){ok ? "ok" : "error"});
}

double obs_pool_saturated_total(void) { return mx_get(f_sat, NULL); }
double obs_pool_waiting(void) { return mx_get(f_wait, NULL); }

void obs_tick_done(int rc)
{
    pthread_mutex_lock(&obs_mu);
    last_tick_ms = cb_now_ms();
    tick_failed = rc != 0;
    pthread_mutex_unlock(&obs_mu);
}

void obs_set_tick_interval(int seconds)
{
    pthread_mutex_lock(&obs_mu);
    tick_interval_s = seconds;
    if (!started_ms) started_ms = cb_now_ms();
    pthread_mutex_unlock(&obs_mu);
}

void obs_findings_set(json_t *findings)
{
    obs_register();
    mx_reset(f_findings);
    for (int i = 0; monitor_kinds[i]; i++) {
        int n = 0;
        size_t j;
        json_t *f;
        json_array_foreach(findings, j, f) n += !strcmp(json_string_value(json_object_get(f, "kind")), monitor_kinds[i]);
        mx_set(f_findings, n, (const char *const[]){monitor_kinds[i]});
    }
}

int obs_health(void *app, char **json)
{
    mcp_app *a = app;
    json_t *checks = json_object();
    int bad = 0;
    /* store: a read; key: a sealed value (the API-key HMAC key or the audit head) opens */
    pthread_mutex_lock(&a->store_mu);
    sdb_stmt *st = NULL;
    int store_ok = sdb_prepare(store_db(a->store), "SELECT count(*) FROM audit", &st) == SDB_OK &&
                   sdb_step(st) == SDB_ROW;
    if (st) sdb_finalize(st);
    char *v = NULL;
    size_t vl = 0;
    cb_error e = {0};
    int kr = store_sealed_meta_get(a->store, "audit_head", &v, &vl, &e);
    int key_ok = kr == 0 || e.kind == CB_K_NOTFOUND;
    if (!kr) cb_free_secret_n(v, vl + 1);
    pthread_mutex_unlock(&a->store_mu);
    json_object_set_new(checks, "store", json_pack("{s:b}", "ok", store_ok));
    json_object_set_new(checks, "key", key_ok ? json_pack("{s:b}", "ok", 1)
                                              : json_pack("{s:b,s:s}", "ok", 0, "error", "sealed values do not open"));
    bad |= !store_ok || !key_ok;
    pthread_mutex_lock(&obs_mu);
    int iv = tick_interval_s, failed = tick_failed;
    int64_t t = last_tick_ms ? last_tick_ms : started_ms, now = cb_now_ms();
    int ticked = last_tick_ms != 0;
    pthread_mutex_unlock(&obs_mu);
    if (iv > 0) {
        double age = (double)(now - t) / 1000.0;
        /* late: three intervals plus a minute without a pass (a rotation may take a while) */
        int late = age > 3.0 * iv + 60;
        json_t *s = json_pack("{s:b,s:f,s:i,s:b}", "ok", !late && !failed, "last_tick_age_s", age, "interval_s", iv,
                              "ticked", ticked);
        if (failed) json_object_set_new(s, "error", json_string("the last scheduler pass could not run (see the log)"));
        else if (late) json_object_set_new(s, "error", json_string("the scheduler has not run for too long"));
        json_object_set_new(checks, "scheduler", s);
        bad |= late || failed;
    }
    json_t *o = json_pack("{s:s,s:o,s:s,s:b}", "status", bad ? "fail" : "ok", "checks", checks, "broker",
                          leader_self_id(), "scheduler_leader", leader_is());
    *json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return bad;
}
