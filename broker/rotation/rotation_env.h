/* Glue between the rotation engine and its long-running callers (serve, MCP tools).
 * Each call opens its own store handle, policy and config, so the scheduler and the
 * MCP threads never share a SQLite handle (WAL + busy timeout serialize the writers). */
#ifndef CB_ROTATION_ENV_H
#define CB_ROTATION_ENV_H
#include <jansson.h>
#include "policy/config.h"
#include "policy/policy.h"
#include "store/store.h"

/* What every rotation entry point needs: the policy, credbroker.json and the unlocked
 * store named by paths. On failure nothing is left open. */
typedef struct rotation_env { cb_store *s; cb_policy *p; cb_config *cfg; } rotation_env;
int rotation_env_open(const cb_paths *paths, rotation_env *v, cb_error *e);
void rotation_env_close(rotation_env *v);

/* serve: finish or roll forward interrupted rotations before serving. */
int serve_resume_rotations(const cb_paths *paths);
/* serve: one scheduler pass (tick callback; arg is the cb_paths). Returns 1 when the
 * pass could not run at all (policy, config or store failed to open), else 0. */
int serve_scheduler_tick(void *arg);
/* Seconds between ticks: CREDBROKER_SCHEDULER_INTERVAL_S (1..3600), default 30. */
int serve_tick_interval(void);

#endif
