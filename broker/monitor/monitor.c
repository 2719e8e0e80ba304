/* Security monitoring rules over the audit log (SQL on the audit table; the JSON detail
 * is read with SQLite's json_extract), the schedule state and live server counters. */
#include "monitor.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rotation/schedule_state.h"

const char *const monitor_kinds[] = {"auth_failures",      "call_rate_spike", "large_export",
                                     "new_address",        "statement_timeout", "statement_denied",
                                     "pool_saturation",    "rotation_failed", "rotation_overdue", NULL};

#define BASELINE_S (7 * 86400) /* how far back a client's own call rate is learnt */
#define RECENT_S 3600

int monitor_parse_duration(const char *s, int64_t *secs)
{
    if (!s || !*s || strlen(s) > 12) return -1;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || n <= 0 || s[0] == '+' || s[0] == ' ') return -1;
    long long mul = 1;
    if (*end == 's') mul = 1, end++;
    else if (*end == 'm') mul = 60, end++;
    else if (*end == 'h') mul = 3600, end++;
    else if (*end == 'd') mul = 86400, end++;
    if (*end || n > 366LL * 86400 / mul) return -1;
    *secs = n * mul;
    return 0;
}

char *monitor_finding_key(json_t *f)
{
    return cb_sprintf("%s/%s", json_string_value(json_object_get(f, "kind")),
                      json_string_value(json_object_get(f, "subject")) ? json_string_value(json_object_get(f, "subject")) : "");
}

static json_t *iso(int64_t t)
{
    char b[32];
    cb_iso8601(t, b);
    return json_string(b);
}

static void add(json_t *out, const char *kind, const char *severity, const char *subject, json_t *evidence,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void add(json_t *out, const char *kind, const char *severity, const char *subject, json_t *evidence,
                const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s,s:o}", "kind", kind, "severity", severity, "subject",
                                         subject ? subject : "", "summary", msg, "evidence", evidence));
}

static const char *col(sdb_stmt *st, int i)
{
    const unsigned char *t = sdb_column_text(st, i);
    return t ? (const char *)t : "";
}

/* A query that fails while stepping (PostgreSQL reports errors at execution, not at
 * prepare) is an error, never "no findings". */
static int stepped(sdb *db, int r, cb_error *e)
{
    if (r == SDB_DONE) return 0;
    return cb_fail(e, CB_ERR, CB_K_INTERNAL, "monitor: %s", sdb_errmsg(db));
}

static int prep(sdb *db, const char *sql, sdb_stmt **st, cb_error *e)
{
    if (sdb_prepare(db, sql, st) != SDB_OK)
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "monitor: %s", sdb_errmsg(db));
    return 0;
}

/* MCP tool calls (not authentication) are actions mcp.<tool> by actors mcp:<client>. */
#define TOOL_CALL "actor LIKE 'mcp:%' AND action LIKE 'mcp.%' AND action <> 'mcp.authenticate'"

static int rule_auth(sdb *db, const policy_monitoring *m, int64_t since, json_t *out, cb_error *e)
{
    sdb_stmt *st;
    if (prep(db, "SELECT COALESCE(json_extract(detail,'$.addr'),'unknown'), count(*), min(ts), max(ts),"
                 " count(DISTINCT json_extract(detail,'$.prefix')) FROM audit WHERE action = 'mcp.authenticate'"
                 " AND outcome = 'denied' AND ts >= ? GROUP BY 1 ORDER BY 2 DESC", &st, e))
        return CB_ERR;
    sdb_bind_int64(st, 1, since);
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        long long n = sdb_column_int64(st, 1);
        if (n < m->auth_failures) continue;
        add(out, "auth_failures", "high", col(st, 0),
            json_pack("{s:I,s:i,s:o,s:o,s:I}", "failures", (json_int_t)n, "threshold", m->auth_failures, "first",
                      iso(sdb_column_int64(st, 2)), "last", iso(sdb_column_int64(st, 3)), "distinct_key_prefixes",
                      (json_int_t)sdb_column_int64(st, 4)),
            "%lld failed authentications from %s (threshold %d)", n, col(st, 0), m->auth_failures);
    }
    sdb_finalize(st);
    return stepped(db, r, e);
}

static int rule_rate(sdb *db, const policy_monitoring *m, int64_t now, json_t *out, cb_error *e)
{
    sdb_stmt *st;
    /* per client: calls in the last hour, calls in the baseline before it, first call seen */
    if (prep(db, "SELECT actor, sum(ts > ?1), sum(ts <= ?1 AND ts > ?2), min(ts) FROM audit WHERE " TOOL_CALL
                 " AND ts > ?2 GROUP BY actor", &st, e))
        return CB_ERR;
    sdb_bind_int64(st, 1, now - RECENT_S);
    sdb_bind_int64(st, 2, now - RECENT_S - BASELINE_S);
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        long long recent = sdb_column_int64(st, 1), before = sdb_column_int64(st, 2);
        int64_t first = sdb_column_int64(st, 3);
        double hours = (double)(now - RECENT_S - first) / 3600.0;
        if (recent < m->rate_min_calls || hours < 1.0) continue; /* no baseline yet: nothing to compare */
        double base = (double)before / hours;
        if ((double)recent <= m->rate_factor * (base < 1.0 ? 1.0 : base)) continue;
        add(out, "call_rate_spike", "medium", col(st, 0) + 4,
            json_pack("{s:I,s:f,s:f,s:i}", "calls_last_hour", (json_int_t)recent, "baseline_per_hour", base,
                      "baseline_hours", hours, "factor", m->rate_factor),
            "client %s made %lld calls in the last hour, %.1f per hour before", col(st, 0) + 4, recent, base);
    }
    sdb_finalize(st);
    return stepped(db, r, e);
}

static int rule_export(sdb *db, const policy_monitoring *m, int64_t since, json_t *out, cb_error *e)
{
    sdb_stmt *st;
    if (prep(db, "SELECT actor, sum(COALESCE(json_extract(detail,'$.rows'),0)), sum(COALESCE(json_extract(detail,'$.bytes'),0)),"
                 " count(*), max(COALESCE(json_extract(detail,'$.rows'),0)) FROM audit WHERE action IN"
                 " ('mcp.query_readonly','mcp.query_execute') AND outcome = 'ok' AND ts >= ? GROUP BY actor", &st, e))
        return CB_ERR;
    sdb_bind_int64(st, 1, since);
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        long long rows = sdb_column_int64(st, 1), bytes = sdb_column_int64(st, 2);
        if (rows < m->export_rows && bytes < m->export_bytes) continue;
        add(out, "large_export", "medium", col(st, 0) + 4,
            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "rows", (json_int_t)rows, "bytes", (json_int_t)bytes, "queries",
                      (json_int_t)sdb_column_int64(st, 3), "largest_query_rows", (json_int_t)sdb_column_int64(st, 4),
                      "threshold_rows", (json_int_t)m->export_rows, "threshold_bytes", (json_int_t)m->export_bytes),
            "client %s read %lld rows (%lld bytes) in the window", col(st, 0) + 4, rows, bytes);
    }
    sdb_finalize(st);
    return stepped(db, r, e);
}

static int rule_new_address(sdb *db, int64_t since, json_t *out, cb_error *e)
{
    sdb_stmt *st;
    /* an address a client first used in the window, after calls from other addresses */
    if (prep(db, "WITH calls AS (SELECT actor, json_extract(detail,'$.addr') AS addr, ts FROM audit WHERE " TOOL_CALL
                 " AND json_extract(detail,'$.addr') IS NOT NULL),"
                 " firsts AS (SELECT actor, addr, min(ts) AS first, count(*) AS n FROM calls GROUP BY actor, addr)"
                 " SELECT actor, addr, first, n FROM firsts f WHERE first >= ?1"
                 " AND EXISTS (SELECT 1 FROM calls p WHERE p.actor = f.actor AND p.ts < f.first)", &st, e))
        return CB_ERR;
    sdb_bind_int64(st, 1, since);
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        char *subj = cb_sprintf("%s@%s", col(st, 0) + 4, col(st, 1));
        add(out, "new_address", "medium", subj,
            json_pack("{s:s,s:s,s:o,s:I}", "client", col(st, 0) + 4, "address", col(st, 1), "first_seen",
                      iso(sdb_column_int64(st, 2)), "calls", (json_int_t)sdb_column_int64(st, 3)),
            "client %s seen from a new address %s", col(st, 0) + 4, col(st, 1));
        free(subj);
    }
    sdb_finalize(st);
    return stepped(db, r, e);
}

static int rule_statements(sdb *db, const policy_monitoring *m, int64_t since, json_t *out, cb_error *e)
{
    sdb_stmt *st;
#define MSG "lower(COALESCE(json_extract(detail,'$.message'),''))"
    if (prep(db, "SELECT actor, sum(outcome = 'error' AND (" MSG " LIKE '%statement timeout%' OR " MSG
                 " LIKE '%canceling statement%' OR " MSG " LIKE '%timed out%')),"
                 " sum(outcome = 'denied' OR (outcome = 'error' AND " MSG " LIKE '%read-only%')), max(ts)"
                 " FROM audit WHERE " TOOL_CALL " AND ts >= ? GROUP BY actor", &st, e))
        return CB_ERR;
#undef MSG
    sdb_bind_int64(st, 1, since);
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        long long to = sdb_column_int64(st, 1), den = sdb_column_int64(st, 2);
        if (to >= m->statement_timeouts)
            add(out, "statement_timeout", "medium", col(st, 0) + 4,
                json_pack("{s:I,s:i}", "timeouts", (json_int_t)to, "threshold", m->statement_timeouts),
                "client %s hit the statement timeout %lld times", col(st, 0) + 4, to);
        if (den >= m->denied_statements)
            add(out, "statement_denied", "medium", col(st, 0) + 4,
                json_pack("{s:I,s:i,s:o}", "denied", (json_int_t)den, "threshold", m->denied_statements, "last",
                          iso(sdb_column_int64(st, 3))),
                "client %s had %lld calls or statements refused (policy or read-only guard)", col(st, 0) + 4, den);
    }
    sdb_finalize(st);
    return stepped(db, r, e);
}

static int rule_rotations(cb_store *s, const cb_policy *p, int64_t now, json_t *out, cb_error *e)
{
    for (size_t i = 0; p && i < p->ncredentials; i++) {
        const policy_credential *c = &p->credentials[i];
        schedule_state st;
        if (schedule_state_get(s, c->name, &st, e)) return e->code;
        if (st.found && st.last_run && st.last_run > st.last_success) {
            json_t *ev = json_pack("{s:o,s:s}", "last_run", iso(st.last_run), "last_result",
                                   st.last_result ? st.last_result : "error");
            json_object_set_new(ev, "last_success", st.last_success ? iso(st.last_success) : json_null());
            add(out, "rotation_failed", "high", c->name, ev, "the last rotation of %s failed", c->name);
        }
        if (c->schedule) {
            if (!st.found) st.first_seen = now;
            int64_t next = 0;
            cb_error ce = {0};
            int due = schedule_compute(c, &st, now, &next, &ce);
            if (due == 1 && now - next > p->monitoring.rotation_grace_s) {
                json_t *ev = json_pack("{s:s,s:o,s:I,s:i}", "schedule", c->schedule, "missed_slot", iso(next),
                                       "overdue_s", (json_int_t)(now - next), "grace_s", p->monitoring.rotation_grace_s);
                json_object_set_new(ev, "last_success", st.last_success ? iso(st.last_success) : json_null());
                add(out, "rotation_overdue", "high", c->name, ev,
                    "scheduled rotation of %s has not succeeded for %lld s past its slot", c->name, (long long)(now - next));
            }
        }
        schedule_state_free(&st);
    }
    return 0;
}

int monitor_analyze(cb_store *s, const cb_policy *p, int64_t now, int64_t window_s, const monitor_counters *ctr,
                    json_t **findings, cb_error *e)
{
    policy_monitoring defaults;
    memset(&defaults, 0, sizeof defaults);
    policy_monitoring_defaults(&defaults);
    const policy_monitoring *m = p ? &p->monitoring : &defaults;
    sdb *db = store_db(s);
    json_t *out = json_array();
    int64_t since = now - window_s;
    int rc = rule_auth(db, m, since, out, e);
    if (!rc) rc = rule_rate(db, m, now, out, e);
    if (!rc) rc = rule_export(db, m, since, out, e);
    if (!rc) rc = rule_new_address(db, since, out, e);
    if (!rc) rc = rule_statements(db, m, since, out, e);
    if (!rc && ctr && ctr->have && ctr->pool_saturated > 0)
        add(out, "pool_saturation", "medium", "pool",
            json_pack("{s:f,s:f,s:i}", "saturated_acquisitions", ctr->pool_saturated, "waiting_now", ctr->pool_waiting,
                      "pool_max", ctr->pool_max),
            "every pooled database session was busy %.0f times", ctr->pool_saturated);
    if (!rc) rc = rule_rotations(s, p, now, out, e);
    if (rc) {
        json_decref(out);
        return rc;
    }
    *findings = out;
    return 0;
}
