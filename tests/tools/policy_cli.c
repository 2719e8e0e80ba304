/* Test driver for `credbroker policy` before it is wired into main.c:
 *   policy_cli [--json] [--policies DIR] [--config FILE] check|show [ARGS...]
 * Global options before the subcommand are parsed like main.c does (env defaults too). */
#include <stdlib.h>
#include <string.h>
#include "cli/cmd_policy.h"

int main(int argc, char **argv)
{
    cli_ctx ctx = {0};
    ctx.prog = "credbroker";
    ctx.paths.config_path = getenv("CREDBROKER_CONFIG");
    ctx.paths.policies_dir = getenv("CREDBROKER_POLICIES");
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) ctx.json = 1;
        else if (strcmp(argv[i], "--policies") == 0 && i + 1 < argc) ctx.paths.policies_dir = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) ctx.paths.config_path = argv[++i];
        else if (strcmp(argv[i], "-q") == 0) ctx.quiet = 1;
        else break;
    }
    if (!ctx.paths.config_path) ctx.paths.config_path = "credbroker.json";
    if (!ctx.paths.policies_dir) ctx.paths.policies_dir = "policies";
    /* argv[i-1] becomes "policy" so that the subcommand is argv[1] for cmd_policy */
    char *av[64];
    int ac = 0;
    av[ac++] = (char *)"policy";
    for (; i < argc && ac < 63; i++) av[ac++] = argv[i];
    av[ac] = NULL;
    return cmd_policy(&ctx, ac, av);
}
