/* `credbroker policy check|show`: validate the policy directory and credbroker.json,
 * or print the merged effective policy. Never opens the store. */
#ifndef CB_CMD_POLICY_H
#define CB_CMD_POLICY_H
#include "cli.h"

/* argv[0] = "policy". Exit: 0 ok, 2 invalid files or usage. */
int cmd_policy(cli_ctx *ctx, int argc, char **argv);

#endif
