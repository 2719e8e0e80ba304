/* Rotation scheduler: cron schedules from the policy files, state in the store
 * (schedule_state: first_seen, last_success, last_run, last_result, next_run).
 *
 * Catch-up rule: a credential is due when a fire time of its schedule lies in
 * (base, now], base = last successful rotation (or the time the schedule was first
 * seen). After a successful run base = that run, so a broker that was down for a week
 * rotates once, not once per missed slot. A failed run leaves base unchanged (the job
 * stays due) and is retried after SCHEDULER_RETRY_S. The schedule text is stored; when
 * the policy changes it the next run is recomputed from the same base. */
#ifndef CB_SCHEDULER_H
#define CB_SCHEDULER_H
#include <jansson.h>
#include "policy/config.h"
#include "policy/policy.h"
#include "store/store.h"

#define SCHEDULER_RETRY_S 300

/* First finishes interrupted rotations whose owner is gone and that were not touched for
 * SCHEDULER_RETRY_S (rotation_resume_idle), then rotates every scheduled credential
 * that is due now (cb_now()). report (array, may be
 * NULL) gets one rotation report per credential run. Returns 0 when every due rotation
 * succeeded (or none was due), else the first failure's code; every due credential is
 * attempted. serve calls this every 30 s; `credbroker rotate --due` once. */
int scheduler_tick(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, json_t *report,
                   cb_error *e);

/* Every credential of the policy: [{credential, schedule, timezone, strategy,
 * last_success, last_run, last_result, next_run, due}] (times ISO 8601 or null). */
int scheduler_list(cb_store *s, const cb_policy *p, json_t **out, cb_error *e);

#endif
