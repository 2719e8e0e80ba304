/* credbroker lease list | revoke */
#ifndef CB_CMD_LEASE_H
#define CB_CMD_LEASE_H
#include "cli.h"
int cmd_lease(cli_ctx *ctx, int argc, char **argv);
#endif
