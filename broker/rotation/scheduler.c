/* Rotation scheduler: due computation from the last success (catch up once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "scheduler.h"
#include "rotation.h"
#include "schedule_state.h"

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
        schedule_state st;
        cb_error ce = {0};
        if (schedule_state_get(s, c->name, &st, &ce)) {
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
        int due = schedule_compute(c, &st, now, &next, &ce);
        if (due < 0) {
            LOG_WARN("schedule of %s: %s", c->name, ce.msg);
            schedule_state_free(&st);
            if (!first) { first = CB_EUSAGE; if (e) *e = ce; }
            continue;
        }
        /* after a failure, wait SCHEDULER_RETRY_S before trying again */
        if (due && st.last_run && st.last_run > st.last_success && now - st.last_run < SCHEDULER_RETRY_S) due = 0;
        if (!due) {
            st.next_run = next;
            if (schedule_state_put(s, c->name, &st, &ce) && !first) { first = ce.code; if (e) *e = ce; }
            schedule_state_free(&st);
            continue;
        }
        if (!st.found && schedule_state_put(s, c->name, &st, &ce) == 0) { /* keep first_seen */ }
        int64_t base = st.last_success;
        schedule_state_free(&st);
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
        schedule_state st;
        if (schedule_state_get(s, c->name, &st, e)) {
            json_decref(*out);
            *out = NULL;
            return e->code;
        }
        if (!st.found) st.first_seen = now;
        int64_t next = 0;
        int due = 0;
        if (c->schedule) {
            cb_error ce = {0};
            due = schedule_compute(c, &st, now, &next, &ce);
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
        schedule_state_free(&st);
    }
    return 0;
}
