/* credbroker entry point: global options, then dispatch to a command table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "commands.h"
#include "store/audit.h"
#include "cmd_policy.h"
#include "cmd_cron.h"
#include "cmd_mcp.h"
#include "cmd_rotate.h"
#include "cmd_lease.h"
#include "rotation/rotation_env.h"
#include "tools/mcp_app.h"
#include "rotation/cron.h"
#include "policy/policy.h"

#define CREDBROKER_VERSION "0.1.0"

static int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
    (void)argc; (void)argv;
    if (ctx->json) cli_print_json(json_pack("{s:s}", "version", CREDBROKER_VERSION));
    else printf("credbroker %s\n", CREDBROKER_VERSION);
    return 0;
}

static const cli_command commands[] = {
    {"init", cmd_init, "create an encrypted store"},
    {"conn", cmd_conn, "add, list, show, update, remove connections; print a URL (audited)"},
    {"key", cmd_key, "generate a master key; rotate it (optionally re-encrypting); encrypt plaintext rows"},
    {"import", cmd_import, "import the SQL Server MCP server's store (mssqlmcp)"},
    {"assess", cmd_assess, "security assessment of connections and the store (exit 3 on findings)"},
    {"verify", cmd_verify, "authenticate and decrypt every encrypted value (exit 3 on failures)"},
    {"store", cmd_store, "copy the store to a new file or PostgreSQL schema, verified (store migrate --to)"},
    {"audit", cmd_audit, "list or verify the hash-chained audit log"},
    {"get", cmd_get, "print one secret from a provider reference (audited)"},
    {"sync", cmd_sync, "pull every configured source into the encrypted store"},
    {"cache", cmd_cache, "list what is cached from the secret managers (never values)"},
    {"rotate", cmd_rotate, "rotate a credential now; --resume, --due (for system cron), --journal"},
    {"schedule", cmd_schedule, "rotation schedules: last run, result, next run"},
    {"emergency-rotate", cmd_emergency, "incident response: rotate now, end sessions, revoke API keys, audit"},
    {"mcp", cmd_mcp, "serve MCP tools on stdin/stdout (client 'local')"},
    {"serve", cmd_serve, "serve MCP over Streamable HTTP with API keys, and run the scheduler"},
    {"apikey", cmd_apikey, "create, list or revoke API keys for the MCP HTTP server"},
    {"lease", cmd_lease, "list or revoke the leased per-client query logins (never a password)"},
    {"cron", cmd_cron, "next fire times of a cron expression; validate one"},
    {"policy", cmd_policy, "check or show the policy files (file:line:column errors)"},
    {"monitor", cmd_monitor, "security findings from the audit log and schedules (exit 3 on findings)"},
    {"version", cmd_version, "print the version"},
    {NULL, NULL, NULL}
};

static void usage(FILE *f)
{
    fprintf(f, "usage: credbroker [--db PATH] [--config FILE] [--policies DIR] [--json] [-q] [-v] [--log-format text|json]\n"
               "                  COMMAND [ARGS]\n"
               "       credbroker --version\n\ncommands:\n");
    for (const cli_command *c = commands; c->name; c++) fprintf(f, "  %-18s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'credbroker COMMAND --help' for a command's options.\n"
               "Exit codes: 0 ok, 1 error, 2 usage, 3 findings, 4 master key missing or wrong,\n"
               "5 rotation already in progress (another broker holds it).\n"
               "Default paths: as root or under credbroker.service /var/lib/credbroker/credbroker.db and\n"
               "/etc/credbroker/{credbroker.json,policies/}; for a user $XDG_DATA_HOME/credbroker/credbroker.db\n"
               "and $XDG_CONFIG_HOME/credbroker/{credbroker.json,policies/}. -v prints the ones in use.\n");
}

int main(int argc, char **argv)
{
    cb_harden_process();
    cli_ctx ctx;
    const char *bad = NULL;
    int g = cli_init(&ctx, &argc, argv, &bad);
    if (g == 1) { usage(stdout); return 0; }
    if (g == 3) return cmd_version(&ctx, 1, argv);
    if (g == 2) { fprintf(stderr, "credbroker: unknown option %s\n", bad); usage(stderr); return CB_EUSAGE; }
    int i = 1;
    /* MCP credentials_* tools call the rotation engine through this hook */
    mcp_app_rotate_hook = mcp_rotation_adapter;
    mcp_app_rotate_arg = &ctx.paths;
    if (i >= argc) { usage(stderr); return CB_EUSAGE; }
    for (const cli_command *c = commands; c->name; c++)
        if (strcmp(c->name, argv[i]) == 0) return c->fn(&ctx, argc - i, argv + i);
    fprintf(stderr, "credbroker: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return CB_EUSAGE;
}
