/* credbroker mcp (stdio) and credbroker serve (Streamable HTTP). */
#include <stdio.h>
#include <string.h>
#include "cmd_mcp.h"
#include "tools/mcp_app.h"
#include "rotation/rotation_env.h"
#include "rotation/lease_reaper.h"

int cmd_mcp(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: credbroker mcp [--stdio]\n\n"
               "Serves MCP on standard input/output (newline-delimited JSON-RPC) as the policy client 'local'.\n"
               "Logs go to standard error; the server exits when standard input closes.\n");
        return 0;
    }
    cli_take_flag(&argc, argv, "--stdio");
    if (cli_no_unknown_opts(argc, argv) || argc != 1) return CB_EUSAGE;
    mcp_app *a;
    cb_error e = {0};
    int rc = mcp_app_open(&ctx->paths, &a, &e);
    if (rc) return cli_report_error(ctx, &e);
    rc = mcp_app_serve_stdio(a, &e);
    mcp_app_close(a);
    return rc && e.msg[0] ? cli_report_error(ctx, &e) : rc;
}

int cmd_serve(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: credbroker serve [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]\n\n"
               "Serves MCP over Streamable HTTP at /mcp (default 127.0.0.1:8787, or \"listen\" in credbroker.json).\n"
               "Every request needs 'Authorization: Bearer <key>' (credbroker apikey create). Binding anything but\n"
               "loopback prints a warning. Stops on SIGTERM or SIGINT.\n"
               "It also runs the rotation scheduler (policies' schedules, every CREDBROKER_SCHEDULER_INTERVAL_S,\n"
               "default 30 s) and, at start, finishes any rotation that was interrupted.\n");
        return 0;
    }
    const char *listen = cli_take_opt(&argc, argv, "--listen");
    const char *cert = cli_take_opt(&argc, argv, "--tls-cert");
    const char *key = cli_take_opt(&argc, argv, "--tls-key");
    if (cli_no_unknown_opts(argc, argv) || argc != 1) return CB_EUSAGE;
    mcp_app *a;
    cb_error e = {0};
    int rc = mcp_app_open(&ctx->paths, &a, &e);
    if (rc) return cli_report_error(ctx, &e);
    /* finish interrupted rotations first, then run the scheduler next to the endpoint */
    serve_resume_rotations(&ctx->paths);
    serve_lease_recover(&ctx->paths); /* leased logins left by a crash, orphans */
    rc = mcp_app_serve_http(a, listen, cert, key, serve_scheduler_tick, &ctx->paths, serve_tick_interval(), &e);
    mcp_app_close(a);
    return rc && e.msg[0] ? cli_report_error(ctx, &e) : rc;
}
