/* credbroker monitor: security findings from the audit log and the rotation schedules. */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "monitor/monitor.h"
#include "policy/policy.h"
#include "store/store.h"

static int usage(void)
{
    printf("usage: credbroker monitor [--since DURATION] [--json]\n\n"
           "Security findings over the last DURATION (default 24h; 90s, 30m, 24h, 7d): failed\n"
           "authentications per address, a client's call rate far above its own baseline, large\n"
           "exports, a client seen from a new address, statement timeouts and refused statements,\n"
           "failed or overdue scheduled rotations. Thresholds: \"monitoring\" in the policy files.\n"
           "Exit 3 when there are findings.\n");
    return 0;
}

int cmd_monitor(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) return usage();
    const char *since = cli_take_opt(&argc, argv, "--since");
    if (cli_take_flag(&argc, argv, "--json")) ctx->json = 1;
    if (cli_no_unknown_opts(argc, argv) || argc != 1) return CB_EUSAGE;
    int64_t window = 86400;
    if (since && monitor_parse_duration(since, &window)) {
        fprintf(stderr, "credbroker: --since: '%.40s' is not a duration (90s, 30m, 24h, 7d; at most 366d)\n", since);
        return CB_EUSAGE;
    }
    cb_error e = {0};
    cb_policy *p = NULL;
    cb_diags d = {0};
    int rc = policy_load(ctx->paths.policies_dir, &p, &d, &e);
    cb_diags_free(&d);
    if (rc && e.kind == CB_K_NOTFOUND) {
        p = policy_new(); /* no policies: default thresholds, no schedules */
        rc = 0;
    }
    if (rc) return cli_report_error(ctx, &e);
    cb_store *s;
    if ((rc = cli_open_store(ctx, &s))) {
        policy_free(p);
        return rc;
    }
    json_t *f = NULL;
    rc = monitor_analyze(s, p, cb_now(), window, NULL, &f, &e);
    store_close(s);
    policy_free(p);
    if (rc) return cli_report_error(ctx, &e);
    size_t n = json_array_size(f);
    if (ctx->json) {
        cli_print_json(json_pack("{s:I,s:I,s:O}", "window_s", (json_int_t)window, "count", (json_int_t)n, "findings", f));
    } else {
        size_t i;
        json_t *x;
        json_array_foreach(f, i, x) {
            char *ev = json_dumps(json_object_get(x, "evidence"), JSON_COMPACT | JSON_SORT_KEYS);
            printf("%-6s %-18s %s\n       evidence: %s\n", json_string_value(json_object_get(x, "severity")),
                   json_string_value(json_object_get(x, "kind")), json_string_value(json_object_get(x, "summary")),
                   ev ? ev : "{}");
            free(ev);
        }
        if (!n && !ctx->quiet) printf("no findings in the last %lld s\n", (long long)window);
    }
    json_decref(f);
    return n ? CB_EFINDINGS : 0;
}
