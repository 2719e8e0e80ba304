/* CLI commands of the MCP product (wired into main.c by the lead). */
#ifndef CB_CMD_MCP_H
#define CB_CMD_MCP_H
#include "cli.h"

/* credbroker mcp [--stdio]: MCP over stdin/stdout as client "local". */
int cmd_mcp(cli_ctx *ctx, int argc, char **argv);
/* credbroker serve [--listen ADDR] [--tls-cert FILE --tls-key FILE]: Streamable HTTP. */
int cmd_serve(cli_ctx *ctx, int argc, char **argv);
/* credbroker apikey create NAME --policy CLIENT | list | revoke NAME */
int cmd_apikey(cli_ctx *ctx, int argc, char **argv);

#endif
