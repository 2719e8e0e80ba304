/* Per-credential record of rotation runs (schedule_state table): first_seen,
 * last_success, last_run, last_result, next_run. See scheduler.h for the catch-up rule. */
#ifndef CB_SCHEDULE_STATE_H
#define CB_SCHEDULE_STATE_H
#include <stdint.h>
#include "policy/policy.h"
#include "store/store.h"

typedef struct schedule_state {
    int found;
    char *schedule, *last_result;
    int64_t first_seen, last_success, last_run, next_run;
} schedule_state;

void schedule_state_free(schedule_state *st);
/* Reads the row of cred (st->found = 0 when there is none). */
int schedule_state_get(cb_store *s, const char *cred, schedule_state *st, cb_error *e);
int schedule_state_put(cb_store *s, const char *cred, const schedule_state *st, cb_error *e);
/* due (1/0) and the next fire time from base = last success or first seen; -1 on error. */
int schedule_compute(const policy_credential *c, const schedule_state *st, int64_t now, int64_t *next, cb_error *e);

/* Records a run of credential c at `when` (ok=1 success; result: "ok" or a one-line
 * error) and stores the next run. Credentials without a schedule get last_* only. */
int schedule_state_record(cb_store *s, const policy_credential *c, int ok, int64_t when, const char *result,
                          cb_error *e);

#endif
