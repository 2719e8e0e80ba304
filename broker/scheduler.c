/* Rotation scheduler: due computation from the last success (catch up once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "scheduler.h"
#include "cron.h"
#include "rotation.h"

typedef struct sstate {
    int found;
    char *schedule, *last_result;
    int64_t first_seen, last_success, last_run, next_run;
} sstate;

static void sstate_free(sstate *st) { free(st->schedule); free(st->last_result); memset(st, 0, sizeof *st); }

static int serr(cb_store *s, cb_error *e)
{
    return cb_fail(e, CB_ERR, CB_K_INTERNAL, "schedule state: %s", sqlite3_errmsg(store_db(s)));
}

static int state_get(cb_store *s, const char *cred, sstate *st, cb_error *e)
{
    memset(st, 0, sizeof *st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(store_db(s), "SELECT schedule, first_seen, last_success, last_run, last_result, next_run"
                                        " FROM schedule_state WHERE credential = ?", -1, &q, NULL) != SQLITE_OK)
        return serr(s, e);
    sqlite3_bind_text(q, 1, cred, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW) {
        st->found = 1;
        const unsigned char *t = sqlite3_column_text(q, 0);
        st->schedule = t ? cb_strdup((const char *)t) : NULL;
        st->first_seen = sqlite3_column_int64(q, 1);
        st->last_success = sqlite3_column_int64(q, 2);
        st->last_run = sqlite3_column_int64(q, 3);
        t = sqlite3_column_text(q, 4);
        st->last_result = t ? cb_strdup((const char *)t) : NULL;
        st->next_run = sqlite3_column_int64(q, 5);
    }
    sqlite3_finalize(q);
    return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : serr(s, e);
}

static int state_put(cb_store *s, const char *cred, const sstate *st, cb_error *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(store_db(s),
                           "INSERT INTO schedule_state(credential, schedule, first_seen, last_success, last_run, last_result, next_run)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(credential) DO UPDATE SET schedule=excluded.schedule,"
                           " first_seen=excluded.first_seen, last_success=excluded.last_success, last_run=excluded.last_run,"
                           " last_result=excluded.last_result, next_run=excluded.next_run",
                           -1, &q, NULL) != SQLITE_OK)
        return serr(s, e);
    sqlite3_bind_text(q, 1, cred, -1, SQLITE_STATIC);
    if (st->schedule) sqlite3_bind_text(q, 2, st->schedule, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, st->first_seen);
    if (st->last_success) sqlite3_bind_int64(q, 4, st->last_success);
    if (st->last_run) sqlite3_bind_int64(q, 5, st->last_run);
    if (st->last_result) sqlite3_bind_text(q, 6, st->last_result, -1, SQLITE_STATIC);
    if (st->next_run) sqlite3_bind_int64(q, 7, st->next_run);
    int r = sqlite3_step(q);
    sqlite3_finalize(q);
    return r == SQLITE_DONE ? 0 : serr(s, e);
}

/* due (1/0) and the next fire time from base = last success or first seen; -1 on error. */
static int compute(const policy_credential *c, const sstate *st, int64_t now, int64_t *next, cb_error *e)
{
    cron_expr x;
    if (cron_parse(c->schedule, &x, e)) return -1;
    int64_t base = st->last_success ? st->last_success : st->first_seen;
    return cron_due(&x, c->timezone, base, now, next, e);
}

int scheduler_record(cb_store *s, const policy_credential *c, int ok, int64_t when, const char *result, cb_error *e)
{
    sstate st;
    if (state_get(s, c->name, &st, e)) return e->code;
    if (!st.found) st.first_seen = when;
    free(st.schedule);
    st.schedule = cb_strdup(c->schedule);
    st.last_run = when;
    if (ok) st.last_success = when;
    free(st.last_result);
    /* one line, bounded */
    st.last_result = cb_strndup(result ? result : (ok ? "ok" : "error"), 300);
    st.next_run = 0;
    if (c->schedule) {
        int64_t next = 0;
        cb_error ce = {0};
        int d = compute(c, &st, when, &next, &ce);
        if (d >= 0) st.next_run = next;
    }
    int rc = state_put(s, c->name, &st, e);
    sstate_free(&st);
    return rc;
}

int scheduler_tick(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, json_t *report, cb_error *e)
{
    int first = 0;
    /* interrupted or failed rotations first (a daemon retries them, with a pause) */
    cb_error re = {0};
    if (p && rotation_resume_idle(s, p, cfg, actor, SCHEDULER_RETRY_S, report, &re)) {
        first = re.code;
        if (e) *e = re;
    }
    int64_t now = cb_now();
    for (size_t i = 0; p && i < p->ncredentials; i++) {
        const policy_credential *c = &p->credentials[i];
        if (!c->schedule) continue;
        sstate st;
        cb_error ce = {0};
        if (state_get(s, c->name, &st, &ce)) {
            if (!first) { first = ce.code; if (e) *e = ce; }
            continue;
        }
        if (!st.found || !st.schedule || strcmp(st.schedule, c->schedule) != 0) {
            /* first sight of this schedule (or a changed one): store the next run */
            if (!st.found) st.first_seen = now;
            free(st.schedule);
            st.schedule = cb_strdup(c->schedule);
        }
        int64_t next = 0;
        int due = compute(c, &st, now, &next, &ce);
        if (due < 0) {
            LOG_WARN("schedule of %s: %s", c->name, ce.msg);
            sstate_free(&st);
            if (!first) { first = CB_EUSAGE; if (e) *e = ce; }
            continue;
        }
        /* after a failure, wait SCHEDULER_RETRY_S before trying again */
        if (due && st.last_run && st.last_run > st.last_success && now - st.last_run < SCHEDULER_RETRY_S) due = 0;
        if (!due) {
            st.next_run = next;
            if (state_put(s, c->name, &st, &ce) && !first) { first = ce.code; if (e) *e = ce; }
            sstate_free(&st);
            continue;
        }
        if (!st.found && state_put(s, c->name, &st, &ce) == 0) { /* keep first_seen */ }
        int64_t base = st.last_success;
        sstate_free(&st);
        rotation_opts o = {.actor = actor, .scheduled = 1, .due_base = base};
        json_t *rep = json_object();
        json_object_set_new(rep, "scheduled", json_true());
        int rc = rotation_run(s, p, cfg, c->name, &o, rep, &ce);
        if (report) json_array_append(report, rep);
        json_decref(rep);
        if (rc && !first) { first = rc; if (e) *e = ce; }
    }
    return first;
}

static json_t *iso_or_null(int64_t t)
{
    if (!t) return json_null();
    char b[32];
    cb_iso8601(t, b);
    return json_string(b);
}

int scheduler_list(cb_store *s, const cb_policy *p, json_t **out, cb_error *e)
{
    *out = json_array();
    int64_t now = cb_now();
    for (size_t i = 0; p && i < p->ncredentials; i++) {
        const policy_credential *c = &p->credentials[i];
        sstate st;
        if (state_get(s, c->name, &st, e)) {
            json_decref(*out);
            *out = NULL;
            return e->code;
        }
        if (!st.found) st.first_seen = now;
        int64_t next = 0;
        int due = 0;
        if (c->schedule) {
            cb_error ce = {0};
            due = compute(c, &st, now, &next, &ce);
            if (due < 0) { due = 0; next = 0; }
        }
        json_t *o = json_pack("{s:s,s:s?,s:s,s:s}", "credential", c->name, "schedule", c->schedule, "timezone",
                              c->timezone ? c->timezone : "UTC", "strategy", policy_strategy_name(c->strategy));
        json_object_set_new(o, "last_success", iso_or_null(st.last_success));
        json_object_set_new(o, "last_run", iso_or_null(st.last_run));
        json_object_set_new(o, "last_result", st.last_result ? json_string(st.last_result) : json_null());
        json_object_set_new(o, "next_run", iso_or_null(next));
        json_object_set_new(o, "due", json_boolean(due == 1));
        json_array_append_new(*out, o);
        sstate_free(&st);
    }
    return 0;
}
