/* `credbroker cron next|validate`: inspect schedules without touching the store. */
#ifndef CB_CMD_CRON_H
#define CB_CMD_CRON_H
#include "cli.h"

/* argv[0] is "cron". Returns the exit code (0 ok, 2 invalid expression or usage). */
int cmd_cron(cli_ctx *ctx, int argc, char **argv);

#endif
