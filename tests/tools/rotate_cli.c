/* Test driver for `credbroker rotate|schedule|emergency-rotate` before they are wired
 * into main.c: global options (--db, --policies, --config, --json, -q) like main.c, then
 *   rotate_cli [GLOBAL...] rotate|schedule|emergency-rotate ARGS...
 * Also `rotate_cli resume-all` and `rotate_cli tick` call rotation_resume_all and
 * scheduler_tick as serve will, printing the JSON report. */
#include <stdlib.h>
#include <string.h>
#include "store/audit.h"
#include "cli/cmd_rotate.h"
#include "cli/commands.h"
#include "rotation/cron.h"
#include "policy/policy.h"
#include "rotation/rotation.h"
#include "rotation/scheduler.h"
#include "store/store.h"

/* What serve will do: load everything, call the engine entry point, print the report. */
static int serve_like(cli_ctx *ctx, int tick)
{
    cb_error e = {0};
    cb_policy *p = NULL;
    cb_config *cfg = NULL;
    cb_store *s = NULL;
    if (policy_load(ctx->paths.policies_dir, &p, NULL, &e)) return cli_report_error(ctx, &e);
    int rc = cli_load_config(ctx, &cfg);
    if (!rc) rc = cli_open_store(ctx, &s);
    if (!rc) {
        json_t *rep = json_array();
        rc = tick ? scheduler_tick(s, p, cfg, ctx->paths.actor, rep, &e) : rotation_resume_all(s, p, cfg, ctx->paths.actor, rep, &e);
        cli_print_json(json_pack("{s:i,s:o}", "rc", rc, "report", rep));
        store_close(s);
    }
    policy_free(p);
    config_free(cfg);
    return rc;
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
    if (i >= argc) {
        fprintf(stderr, "usage: rotate_cli [--db P] [--policies D] [--config F] [--json] rotate|schedule|emergency-rotate|resume-all|tick ...\n");
        return CB_EUSAGE;
    }
    /* global options may also follow the command, as main.c allows (--json) */
    char *av[128];
    int ac = 0;
    for (int k = i; k < argc && ac < 127; k++) {
        if (strcmp(argv[k], "--json") == 0) { ctx.json = 1; continue; }
        av[ac++] = argv[k];
    }
    av[ac] = NULL;
    if (ac == 0) {
        fprintf(stderr, "rotate_cli: no command\n");
        return CB_EUSAGE;
    }
    if (strcmp(av[0], "rotate") == 0) return cmd_rotate(&ctx, ac, av);
    if (strcmp(av[0], "schedule") == 0) return cmd_schedule(&ctx, ac, av);
    if (strcmp(av[0], "emergency-rotate") == 0) return cmd_emergency(&ctx, ac, av);
    if (strcmp(av[0], "resume-all") == 0) return serve_like(&ctx, 0);
    if (strcmp(av[0], "tick") == 0) return serve_like(&ctx, 1);
    fprintf(stderr, "rotate_cli: unknown command %s\n", av[0]);
    return CB_EUSAGE;
}
