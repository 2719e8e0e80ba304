/* Every CLI command handler, wired into main.c's table. */
#ifndef CB_COMMANDS_H
#define CB_COMMANDS_H
#include "cli.h"

int cmd_init(cli_ctx *ctx, int argc, char **argv);
int cmd_verify(cli_ctx *ctx, int argc, char **argv);
int cmd_store(cli_ctx *ctx, int argc, char **argv);
int cmd_conn(cli_ctx *ctx, int argc, char **argv);
int cmd_key(cli_ctx *ctx, int argc, char **argv);
int cmd_import(cli_ctx *ctx, int argc, char **argv);
int cmd_assess(cli_ctx *ctx, int argc, char **argv);
int cmd_audit(cli_ctx *ctx, int argc, char **argv);
int cmd_get(cli_ctx *ctx, int argc, char **argv);
int cmd_sync(cli_ctx *ctx, int argc, char **argv);
int cmd_cache(cli_ctx *ctx, int argc, char **argv);
int cmd_monitor(cli_ctx *ctx, int argc, char **argv);

struct cb_config;
/* Loads credbroker.json for a command (absent is fine unless given explicitly). */
int cli_load_config(cli_ctx *ctx, struct cb_config **cfg);

#endif
