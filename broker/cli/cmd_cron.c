/* `credbroker cron next EXPR [--from ISO8601] [--count N] [--tz ZONE]` and
 * `credbroker cron validate EXPR [--tz ZONE]`. EXPR may be one quoted argument or the five
 * fields as separate arguments; they are joined with spaces. */
#include "cmd_cron.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rotation/cron.h"
#include "rotation/tzfile.h"

#define CRON_MAX_COUNT 1000
#define CRON_LAST_TIME 253402300799LL  /* 9999-12-31T23:59:59Z: ISO 8601 needs 4 digits */

static void cron_usage(FILE *f)
{
    fprintf(f,
        "usage: credbroker cron next EXPR [--from ISO8601] [--count N] [--tz ZONE] [--json]\n"
        "       credbroker cron validate EXPR [--tz ZONE] [--json]\n"
        "\n"
        "EXPR is a Vixie cron schedule: 'MIN HOUR DOM MON DOW' (names jan-dec, sun-sat; ranges,\n"
        "steps, lists) or @hourly @daily @midnight @weekly @monthly @yearly @annually.\n"
        "When both day fields are restricted (neither starts with '*') a day matches either.\n"
        "next prints the next N (default 5, max %d) fire times after --from (default now),\n"
        "one UTC ISO 8601 time per line; matching uses the wall clock of --tz (default UTC).\n"
        "Exit codes: 0 ok, 2 invalid expression, time or option.\n", CRON_MAX_COUNT);
}

static int usage_err(cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_err(cli_ctx *ctx, const char *fmt, ...)
{
    cb_error e = {0};
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cb_fail(&e, CB_EUSAGE, CB_K_INVALID, "%s", msg);
    return cli_report_error(ctx, &e);
}

int cmd_cron(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        cron_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CB_EUSAGE : 0;
    }
    const char *sub = argv[1];
    int is_next = strcmp(sub, "next") == 0;
    if (!is_next && strcmp(sub, "validate") != 0) return usage_err(ctx, "cron: unknown subcommand '%.40s' (expected next or validate)", sub);
    const char *from = NULL, *tz = "UTC", *count_s = NULL;
    cb_buf expr;
    cb_buf_init(&expr, 0);
    int npos = 0, rc = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], **slot = NULL, *val = NULL;
        if (strcmp(a, "--json") == 0) { ctx->json = 1; continue; }
        if (strcmp(a, "--from") == 0 || strncmp(a, "--from=", 7) == 0) slot = &from;
        else if (strcmp(a, "--tz") == 0 || strncmp(a, "--tz=", 5) == 0) slot = &tz;
        else if (strcmp(a, "--count") == 0 || strncmp(a, "--count=", 8) == 0) slot = &count_s;
        if (slot) {
            const char *eq = strchr(a, '=');
            if (eq) val = eq + 1;
            else if (i + 1 < argc) val = argv[++i];
            else { rc = usage_err(ctx, "cron: option %.40s needs a value", a); goto out; }
            *slot = val;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') { rc = usage_err(ctx, "cron: unknown option %.40s", a); goto out; }
        if (npos++) cb_buf_puts(&expr, " ");
        cb_buf_puts(&expr, a);
    }
    if (!npos) { rc = usage_err(ctx, "cron %s: missing EXPR", sub); goto out; }
    if (!is_next && (from || count_s)) { rc = usage_err(ctx, "cron validate: %s", "--from and --count apply to 'cron next'"); goto out; }
    int count = 5;
    if (count_s) {
        char *end;
        long n = strtol(count_s, &end, 10);
        if (!*count_s || *end || n < 1 || n > CRON_MAX_COUNT) {
            cb_error e = {0};
            cb_fail(&e, CB_EUSAGE, CB_K_INVALID, "cron: --count must be an integer 1-%d", CRON_MAX_COUNT);
            rc = cli_report_error(ctx, &e);
            goto out;
        }
        count = (int)n;
    }
    int64_t t = cb_now();
    if (from && cb_parse_iso8601(from, &t) != 0) { rc = usage_err(ctx, "cron: --from: not an ISO 8601 time: '%.40s'", from); goto out; }
    cb_error e = {0};
    cron_expr c;
    if (cron_parse(expr.data, &c, &e)) cb_error_prefix(&e, "invalid cron expression");
    else if (!cb_tz_get(tz, &e)) cb_error_prefix(&e, "--tz");
    if (e.code) {
        rc = cli_report_error(ctx, &e);
        goto out;
    }
    if (!is_next) {
        if (ctx->json) cli_print_json(json_pack("{s:s,s:s,s:b}", "expr", expr.data, "tz", tz, "valid", 1));
        else if (!ctx->quiet) printf("valid\n");
        goto out;
    }
    json_t *arr = json_array();
    cb_buf text;
    cb_buf_init(&text, 0);
    for (int i = 0; i < count; i++) {
        int64_t nt;
        int bad = cron_next(&c, t, tz, &nt, &e);
        if (!bad && nt > CRON_LAST_TIME) bad = cb_fail(&e, CB_EUSAGE, CB_K_INVALID, "no fire time before the year 10000");
        if (bad) {
            if (i > 0) break;  /* the calendar ran out after some times: print those */
            json_decref(arr);
            cb_buf_free(&text);
            rc = cli_report_error(ctx, &e);
            goto out;
        }
        t = nt;
        char iso[32];
        cb_iso8601(t, iso);
        json_array_append_new(arr, json_string(iso));
        cb_buf_printf(&text, "%s\n", iso);
    }
    if (ctx->json) cli_print_json(json_pack("{s:s,s:s,s:o}", "expr", expr.data, "tz", tz, "next", arr));
    else { json_decref(arr); fputs(text.data, stdout); }
    cb_buf_free(&text);
out:
    cb_buf_free(&expr);
    return rc;
}
