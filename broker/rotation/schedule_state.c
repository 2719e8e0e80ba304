/* The record of rotation runs per credential (table schedule_state): written by the
 * engine after every run, read by the scheduler to decide what is due. Owning it here
 * keeps the engine from calling back into the scheduler. */
#include <stdlib.h>
#include <string.h>
#include "schedule_state.h"
#include "cron.h"

void schedule_state_free(schedule_state *st) { free(st->schedule); free(st->last_result); memset(st, 0, sizeof *st); }

static int serr(cb_store *s, cb_error *e)
{
    return cb_fail(e, CB_ERR, CB_K_INTERNAL, "schedule state: %s", sdb_errmsg(store_db(s)));
}

int schedule_state_get(cb_store *s, const char *cred, schedule_state *st, cb_error *e)
{
    memset(st, 0, sizeof *st);
    sdb_stmt *q;
    if (sdb_prepare(store_db(s), "SELECT schedule, first_seen, last_success, last_run, last_result, next_run"
                                        " FROM schedule_state WHERE credential = ?", &q) != SDB_OK)
        return serr(s, e);
    sdb_bind_text(q, 1, cred, -1);
    int r = sdb_step(q);
    if (r == SDB_ROW) {
        st->found = 1;
        const unsigned char *t = sdb_column_text(q, 0);
        st->schedule = t ? cb_strdup((const char *)t) : NULL;
        st->first_seen = sdb_column_int64(q, 1);
        st->last_success = sdb_column_int64(q, 2);
        st->last_run = sdb_column_int64(q, 3);
        t = sdb_column_text(q, 4);
        st->last_result = t ? cb_strdup((const char *)t) : NULL;
        st->next_run = sdb_column_int64(q, 5);
    }
    sdb_finalize(q);
    return r == SDB_ROW || r == SDB_DONE ? 0 : serr(s, e);
}

int schedule_state_put(cb_store *s, const char *cred, const schedule_state *st, cb_error *e)
{
    sdb_stmt *q;
    if (sdb_prepare(store_db(s),
                           "INSERT INTO schedule_state(credential, schedule, first_seen, last_success, last_run, last_result, next_run)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(credential) DO UPDATE SET schedule=excluded.schedule,"
                           " first_seen=excluded.first_seen, last_success=excluded.last_success, last_run=excluded.last_run,"
                           " last_result=excluded.last_result, next_run=excluded.next_run", &q) != SDB_OK)
        return serr(s, e);
    sdb_bind_text(q, 1, cred, -1);
    if (st->schedule) sdb_bind_text(q, 2, st->schedule, -1);
    sdb_bind_int64(q, 3, st->first_seen);
    if (st->last_success) sdb_bind_int64(q, 4, st->last_success);
    if (st->last_run) sdb_bind_int64(q, 5, st->last_run);
    if (st->last_result) sdb_bind_text(q, 6, st->last_result, -1);
    if (st->next_run) sdb_bind_int64(q, 7, st->next_run);
    int r = sdb_step(q);
    sdb_finalize(q);
    return r == SDB_DONE ? 0 : serr(s, e);
}

int schedule_compute(const policy_credential *c, const schedule_state *st, int64_t now, int64_t *next, cb_error *e)
{
    cron_expr x;
    if (cron_parse(c->schedule, &x, e)) return -1;
    int64_t base = st->last_success ? st->last_success : st->first_seen;
    return cron_due(&x, c->timezone, base, now, next, e);
}

int schedule_state_record(cb_store *s, const policy_credential *c, int ok, int64_t when, const char *result, cb_error *e)
{
    schedule_state st;
    if (schedule_state_get(s, c->name, &st, e)) return e->code;
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
        int d = schedule_compute(c, &st, when, &next, &ce);
        if (d >= 0) st.next_run = next;
    }
    int rc = schedule_state_put(s, c->name, &st, e);
    schedule_state_free(&st);
    return rc;
}
