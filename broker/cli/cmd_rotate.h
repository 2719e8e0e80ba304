/* `credbroker rotate`, `credbroker schedule`, `credbroker emergency-rotate`. */
#ifndef CB_CMD_ROTATE_H
#define CB_CMD_ROTATE_H
#include "cli.h"
#include "policy/config.h"
#include "policy/policy.h"
#include "store/store.h"

/* argv[0] = "rotate": rotate NAME... | --resume [NAME...] | --due | --journal.
 * Exit: 0 ok, 1 failure, 2 usage/policy refusal, 4 key, 5 rotation in progress. */
int cmd_rotate(cli_ctx *ctx, int argc, char **argv);
/* argv[0] = "schedule": schedule list. */
int cmd_schedule(cli_ctx *ctx, int argc, char **argv);
/* argv[0] = "emergency-rotate": (NAME... | --all) --incident ID --reason TEXT [--revoke-api-keys].
 * Exit 0 only when everything was done, else 1 (2 usage). */
int cmd_emergency(cli_ctx *ctx, int argc, char **argv);

/* Incident response core shared by emergency-rotate and the MCP tool (see cmd_rotate.c). */
int emergency_run(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, json_t *names,
                  const char *incident, const char *reason, int revoke, json_t **record, json_t **reports);

#endif
