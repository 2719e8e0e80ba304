/* `credbroker rotate`, `credbroker schedule`, `credbroker emergency-rotate`. */
#ifndef CB_CMD_ROTATE_H
#define CB_CMD_ROTATE_H
#include "cli.h"

/* argv[0] = "rotate": rotate NAME... | --resume [NAME...] | --due | --journal.
 * Exit: 0 ok, 1 failure, 2 usage/policy refusal, 4 key, 5 rotation in progress. */
int cmd_rotate(cli_ctx *ctx, int argc, char **argv);
/* argv[0] = "schedule": schedule list. */
int cmd_schedule(cli_ctx *ctx, int argc, char **argv);
/* argv[0] = "emergency-rotate": (NAME... | --all) --incident ID --reason TEXT [--revoke-api-keys].
 * Exit 0 only when everything was done, else 1 (2 usage). */
int cmd_emergency(cli_ctx *ctx, int argc, char **argv);

#endif
