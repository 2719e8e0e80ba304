/* Test driver for `credbroker cron` before it is wired into main.c:
 *   cron_cli [--json] [-q] cron next|validate ...   (same arguments as the real command) */
#include <string.h>
#include "cli/cmd_cron.h"

int main(int argc, char **argv)
{
    cli_ctx ctx = {0};
    ctx.prog = "credbroker";
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) ctx.json = 1;
        else if (strcmp(argv[i], "-q") == 0) ctx.quiet = 1;
        else break;
    }
    if (i >= argc || strcmp(argv[i], "cron") != 0) {
        fprintf(stderr, "usage: cron_cli [--json] [-q] cron next|validate ...\n");
        return CB_EUSAGE;
    }
    return cmd_cron(&ctx, argc - i, argv + i);
}
