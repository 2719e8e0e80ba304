/* Password rotation: AWS's four steps (create -> set -> test -> finish) with a
 * write-ahead journal in the store, so every step is idempotent and an interrupted
 * rotation (kill -9 at any line) is finished by the next run.
 *
 *   create  generate a password by the credential's policy; keep it sealed in the store
 *           (secrets ns "pending") and journal the rotation in ONE transaction; then write
 *           it as the pending version to publish_to (AWSPENDING with the rotation id as
 *           ClientRequestToken / new Vault KV version with CAS / Key Vault version tagged
 *           pending). The database is not touched yet.
 *   set     change the password in the database (admin_connection, or the login itself
 *           with its old password).
 *   test    log in with the pending credential.
 *   finish  promote pending to current in the provider (previous kept), then in ONE
 *           transaction: rewrite the stored connection URL (same format), drop the
 *           pending secret and the journal row, record the schedule result; audit.
 *
 * Invariant (DESIGN 3): at every instant some stored credential logs in — the stored
 * connection URL until set has run, the sealed pending password from then until finish
 * commits, the new URL after. Resume decides by testing: if the pending credential logs
 * in, set is done and the rotation rolls forward to finish; else set is run (again).
 *
 * Exclusion, in this order: the journal row, taken in ONE store transaction (BEGIN
 * IMMEDIATE) that also re-reads the stored credential (a row whose owner is live — same
 * host: pid alive; other host: updated_at heartbeat younger than 5 min; same process:
 * the in-process active set — means in progress; a stored credential that changed since
 * the first read means another broker rotated it just now); then the database lock
 * (pg_try_advisory_lock / sp_getapplock on "credbroker:rotate:<credential>"), held for
 * the rest of the rotation on the control connection, after which the stored credential
 * is read once more; plus the provider's own check (AWS token, Vault CAS). A journal row
 * this run wrote is removed again when it stops before anything left the process.
 *
 * Test-only hook: CREDBROKER_TEST_PAUSE_AT=<point> (after-read-credential: between the
 * first read of the stored credential and the journal; before-create, after-create,
 * before-set, after-set, before-test, after-test, before-finish, after-finish) prints
 * "credbroker: test pause at <point> pid=<pid>" on stderr and sleeps
 * CREDBROKER_TEST_PAUSE_S seconds (default 30), so a test can kill -9 there; with
 * CREDBROKER_TEST_PAUSE_UNTIL=FILE it waits until FILE exists instead (at most PAUSE_S). */
#ifndef CB_ROTATION_H
#define CB_ROTATION_H
#include <jansson.h>
#include "policy/config.h"
#include "conn/connstr.h"
#include "policy/policy.h"
#include "store/store.h"

/* Exit code when another broker is rotating the same credential (cb_error kind
 * CB_K_CONFLICT, message "rotation of NAME is already in progress ..."). */
#define ROTATION_EXIT_IN_PROGRESS 5

typedef struct rotation_opts {
    const char *actor;        /* audit actor, e.g. "root@cli" */
    int resume_only;          /* finish an interrupted rotation only; never start one */
    int emergency;            /* audit as emergency (incident id below) */
    const char *incident;     /* may be NULL */
    int scheduled;            /* a due rotation (scheduler): done by another broker = done */
    int64_t due_base;         /* scheduled: the last success the scheduler saw (0: none) */
} rotation_opts;

/* Rotates one credential now (or finishes its interrupted rotation first, then stops:
 * a resumed rotation counts as the rotation). report (may be NULL) gets
 * {credential, id, strategy, user, connection, resumed, from_step, outcome,
 *  published_version, duration_ms, error}. resume_only and nothing to resume: 0 with
 * outcome "nothing". Errors: CB_EUSAGE policy refusals (unknown credential, missing
 * connection, min_sslmode), CB_ERR database/provider failures (journal kept; the
 * stored credential still logs in), ROTATION_EXIT_IN_PROGRESS (outcome "in-progress", or
 * "rotated-elsewhere" when another broker rotated it just now; with opts.scheduled that
 * case returns 0: what was due is done). */
int rotation_run(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *credential,
                 const rotation_opts *o, json_t *report, cb_error *e);

/* Finishes every interrupted rotation in the journal (serve start, rotate --resume).
 * report (array, may be NULL) gets one rotation_run report per journal row. Returns 0
 * when all finished, else the first failure's code (every row is attempted). */
int rotation_resume_all(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor,
                        json_t *report, cb_error *e);

/* Same, for the scheduler: skips rows owned by a live process on this host and rows
 * updated (started or failed) less than idle_s seconds ago. */
int rotation_resume_idle(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, int idle_s,
                         json_t *report, cb_error *e);

/* Journal rows (metadata only): [{credential,id,step,strategy,user,connection,
 * pending_version,started_at,updated_at,owner_pid,owner_host,error}]. */
int rotation_journal_list(cb_store *s, json_t **out, cb_error *e);

/* Drops the journal row and pending password of a credential no longer in the policy
 * (rotation_discard.c); refused while it is in the policy or its owner is alive. Audited. */
int rotation_journal_discard(cb_store *s, const cb_policy *p, const char *credential, const char *actor, cb_error *e);

/* Ends every session of the credential's login(s) (both logins for alternating-users).
 * *count = sessions ended. Runs on the admin connection, else on the stored one. */
int rotation_terminate_sessions(cb_store *s, const cb_policy *p, const cb_config *cfg,
                                const char *credential, int *count, cb_error *e);

/* Pure helpers (unit tested). */
/* "create"/"set"/"test"/"finish" -> 1..4; 0 for anything else. */
int rotation_step_from_name(const char *name);
const char *rotation_step_name(int step);
/* Credential's password policy as a generator policy; CB_EUSAGE when unsatisfiable. */
struct pw_policy;
int rotation_pw_policy(const policy_credential *c, struct pw_policy *out, cb_error *e);
/* 0 when the URL meets min (policy_sslmode; UNSET = no requirement), else CB_EUSAGE
 * naming the connection. PostgreSQL: sslmode (absent = prefer); SQL Server: Encrypt
 * must be true/strict for require and above. */
int rotation_check_sslmode(const conn_url *u, int min, const char *conn_name, cb_error *e);
/* The value written to publish_to: AWS's database secret shape
 * {"engine","host","port","username","password","dbname","url"}; with publish_to#field
 * (field not one of these) that field also holds the URL. cb_free_secret. */
char *rotation_published_value(const conn_url *u, const char *field);

#endif
