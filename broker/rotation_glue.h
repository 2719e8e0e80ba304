/* Glue between the rotation engine and its long-running callers (serve, MCP tools).
 * Each call opens its own store handle, policy and config, so the scheduler and the
 * MCP threads never share a SQLite handle (WAL + busy timeout serialize the writers). */
#ifndef CB_ROTATION_GLUE_H
#define CB_ROTATION_GLUE_H
#include <jansson.h>
#include "cli.h"

/* serve: finish or roll forward interrupted rotations before serving. */
int serve_resume_rotations(cli_ctx *ctx);
/* serve: one scheduler pass (tick callback; arg is the cli_ctx). */
int serve_scheduler_tick(void *arg);
/* Seconds between ticks: CREDBROKER_SCHEDULER_INTERVAL_S (1..3600), default 30. */
int serve_tick_interval(void);
/* mcp_rotate_fn for credentials_rotate / credentials_emergency_rotate (arg is the cli_ctx). */
int mcp_rotation_adapter(void *arg, const char *credential, int emergency, const char *incident,
                         const char *reason, int revoke_api_keys, const char *actor, json_t **report, cb_error *e);

#endif
