/* credbroker entry point: global options, then dispatch to a command table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "commands.h"
#include "audit.h"
#include "cmd_policy.h"
#include "cmd_cron.h"
#include "cmd_mcp.h"
#include "cmd_rotate.h"
#include "rotation_glue.h"
#include "mcp_app.h"
#include "cron.h"
#include "policy.h"

#define CREDBROKER_VERSION "0.1.0"

static int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
    (void)argc; (void)argv;
    if (ctx->json) cli_print_json(json_pack("{s:s}", "version", CREDBROKER_VERSION));
    else printf("credbroker %s\n", CREDBROKER_VERSION);
    return 0;
}

/* Policy files name cron schedules; they are checked by the same parser the scheduler uses. */
static int schedule_check(const char *expr, const char *tz, cb_error *e)
{
    cron_expr c;
    int rc = cron_parse(expr, &c, e);
    if (!rc && tz && strcmp(tz, "UTC") != 0) {
        int64_t next;
        rc = cron_next(&c, cb_now(), tz, &next, e);
    }
    return rc;
}

static const cli_command commands[] = {
    {"init", cmd_init, "create an encrypted store"},
    {"conn", cmd_conn, "add, list, show, update, remove connections; print a URL (audited)"},
    {"key", cmd_key, "generate a master key; rotate it (optionally re-encrypting); encrypt plaintext rows"},
    {"import", cmd_import, "import the SQL Server MCP server's store (mssqlmcp)"},
    {"assess", cmd_assess, "security assessment of connections and the store (exit 3 on findings)"},
    {"verify", cmd_verify, "authenticate and decrypt every encrypted value (exit 3 on failures)"},
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
    {"cron", cmd_cron, "next fire times of a cron expression; validate one"},
    {"policy", cmd_policy, "check or show the policy files (file:line:column errors)"},
    {"version", cmd_version, "print the version"},
    {NULL, NULL, NULL}
};

static void usage(FILE *f)
{
    fprintf(f, "usage: credbroker [--db PATH] [--config FILE] [--policies DIR] [--json] [-q] [-v] COMMAND [ARGS]\n\ncommands:\n");
    for (const cli_command *c = commands; c->name; c++) fprintf(f, "  %-18s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'credbroker COMMAND --help' for a command's options.\n"
               "Exit codes: 0 ok, 1 error, 2 usage, 3 findings, 4 master key missing or wrong,\n"
               "5 rotation already in progress (another broker holds it).\n");
}

int main(int argc, char **argv)
{
    cb_harden_process();
    cli_ctx ctx = {0};
    ctx.prog = "credbroker";
    ctx.db_path = getenv("CREDBROKER_DB");
    ctx.config_path = getenv("CREDBROKER_CONFIG");
    ctx.policies_dir = getenv("CREDBROKER_POLICIES");
    /* Global options are accepted anywhere before a "--" (credbroker conn list --json). */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < argc) argv[n++] = argv[i++];
            break;
        }
        if (strcmp(a, "--db") == 0 && i + 1 < argc) ctx.db_path = argv[++i];
        else if (strncmp(a, "--db=", 5) == 0) ctx.db_path = a + 5;
        else if (strcmp(a, "--config") == 0 && i + 1 < argc && n == 1) ctx.config_path = argv[++i];
        else if (strcmp(a, "--policies") == 0 && i + 1 < argc && n == 1) ctx.policies_dir = argv[++i];
        else if (strcmp(a, "--json") == 0) ctx.json = 1;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) ctx.quiet = 1;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) ctx.verbose++;
        else if (strcmp(a, "-vv") == 0) ctx.verbose += 2;
        else if (n == 1 && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) { usage(stdout); return 0; }
        else if (n == 1 && a[0] == '-') { fprintf(stderr, "credbroker: unknown option %s\n", a); usage(stderr); return CB_EUSAGE; }
        else argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    int i = 1;
    if (!ctx.db_path) ctx.db_path = "credbroker.db";
    if (!ctx.config_path) ctx.config_path = "credbroker.json";
    if (!ctx.policies_dir) ctx.policies_dir = "policies";
    ctx.actor = audit_cli_actor();
    policy_schedule_validator = schedule_check;
    /* MCP credentials_* tools call the rotation engine through this hook */
    mcp_app_rotate_hook = mcp_rotation_adapter;
    mcp_app_rotate_arg = &ctx;
    cb_log_level = ctx.quiet ? 0 : 1 + ctx.verbose;
    if (i >= argc) { usage(stderr); return CB_EUSAGE; }
    for (const cli_command *c = commands; c->name; c++)
        if (strcmp(c->name, argv[i]) == 0) return c->fn(&ctx, argc - i, argv + i);
    fprintf(stderr, "credbroker: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return CB_EUSAGE;
}
