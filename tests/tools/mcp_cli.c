/* Test driver for the MCP commands before they are wired into main.c:
 *   mcp_cli [--db PATH] [--policies DIR] [--config FILE] [--json] [-q] [-v] mcp|serve|apikey [ARGS...]
 *   mcp_cli serve-tick LISTEN FILE   mcp_app_serve_http with a 1 s tick appending "tick" to FILE
 * Global options are parsed like main.c (environment defaults too). With
 * MCP_CLI_FAKE_ROTATE=1 a test double stands in for the rotation engine (it records
 * its arguments in the report and changes nothing). With MCP_CLI_NO_PREFILTER=1 the
 * PostgreSQL text layer of query_readonly is off (pg_readonly_prefilter = 0), so tests can
 * show what the database alone refuses; the shipped credbroker binary has no such switch. */
#include <stdlib.h>
#include <string.h>
#include "store/audit.h"
#include "cli/cmd_mcp.h"
#include "tools/mcp_app.h"
#include "databases/postgres.h"

static int fake_rotate(void *arg, const char *credential, int emergency, const char *incident, const char *reason,
                       int revoke_api_keys, const char *actor, json_t **report, cb_error *e)
{
    (void)arg;
    if (!strcmp(credential, "broken"))
        return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "rotation failed: password authentication failed for "
                                                    "postgresql://app:FAKE-ROTATION-SECRET@db/x");
    *report = json_pack("{s:s,s:s,s:s?,s:s?,s:b,s:s}", "engine", "test-double", "step", "finished", "incident",
                        incident, "reason", reason, "revoked_api_keys", revoke_api_keys, "actor", actor);
    (void)emergency;
    return 0;
}

static int tick_file(void *arg)
{
    FILE *f = fopen(arg, "a");
    if (f) {
        fputs("tick\n", f);
        fclose(f);
    }
    return 0;
}

static int serve_tick(cli_ctx *ctx, const char *listen, char *file)
{
    mcp_app *a;
    cb_error e = {0};
    int rc = mcp_app_open(&ctx->paths, &a, &e);
    if (rc) return cli_report_error(ctx, &e);
    rc = mcp_app_serve_http(a, listen, NULL, NULL, tick_file, file, 1, &e);
    mcp_app_close(a);
    return rc && e.msg[0] ? cli_report_error(ctx, &e) : rc;
}

int main(int argc, char **argv)
{
    cb_harden_process();
    cli_ctx ctx;
    if (cli_init(&ctx, &argc, argv, NULL) == 2) {
        fprintf(stderr, "unknown option\n");
        return CB_EUSAGE;
    }
    int i = 1;
    if (getenv("MCP_CLI_FAKE_ROTATE")) mcp_app_rotate_hook = fake_rotate;
    if (getenv("MCP_CLI_NO_PREFILTER")) pg_readonly_prefilter = 0;
    if (i >= argc) return CB_EUSAGE;
    const char *cmd = argv[i];
    if (!strcmp(cmd, "mcp")) return cmd_mcp(&ctx, argc - i, argv + i);
    if (!strcmp(cmd, "serve")) return cmd_serve(&ctx, argc - i, argv + i);
    if (!strcmp(cmd, "apikey")) return cmd_apikey(&ctx, argc - i, argv + i);
    if (!strcmp(cmd, "serve-tick") && i + 2 < argc) return serve_tick(&ctx, argv[i + 1], argv[i + 2]);
    return CB_EUSAGE;
}
