#include "cli.h"
#include <string.h>

int cli_report_error(cli_ctx *ctx, const cb_error *e)
{
    int code = e->code ? e->code : CB_ERR;
    if (ctx && ctx->json) {
        json_t *o = json_pack("{s:b,s:s,s:i}", "ok", 0, "error", e->msg[0] ? e->msg : "failed", "exit_code", code);
        cli_print_json(o);
    }
    if (cb_log_json) cb_log(0, "%s", e->msg[0] ? e->msg : "failed"); /* --log-format json: every stderr line is JSON */
    else fprintf(stderr, "credbroker: %s\n", e->msg[0] ? e->msg : "failed");
    return code;
}

void cli_print_json(json_t *v)
{
    if (!v) return;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(v);
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

#include <stdarg.h>
#include <termios.h>
#include <unistd.h>
#include "store/store.h"

static int64_t cli_t0;
__attribute__((constructor)) static void cli_start_clock(void) { cli_t0 = cb_now_ms(); }
long cli_elapsed_ms(void) { return (long)(cb_now_ms() - cli_t0); }

int cli_open_store(cli_ctx *ctx, cb_store **out)
{
    cb_error e = {0};
    if (store_open_unlocked(ctx->paths.db_path, out, &e)) return cli_report_error(ctx, &e);
    return 0;
}

char *cli_read_secret_stdin(cli_ctx *ctx, const char *prompt)
{
    cb_error e = {0};
    struct termios old, quiet;
    int tty = isatty(0) && tcgetattr(0, &old) == 0;
    if (tty) {
        fprintf(stderr, "%s: ", prompt);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSAFLUSH, &quiet);
        /* one line from the terminal */
        char line[8192];
        char *r = fgets(line, sizeof line, stdin);
        tcsetattr(0, TCSAFLUSH, &old);
        fputc('\n', stderr);
        if (!r) {
            cb_wipe(line, sizeof line);
            cb_fail(&e, CB_ERR, CB_K_INVALID, "no input");
            cli_report_error(ctx, &e);
            return NULL;
        }
        line[strcspn(line, "\r\n")] = 0;
        char *v = cb_strdup(line);
        cb_wipe(line, sizeof line);
        return v;
    }
    char *v = cb_read_stream_secret(0, 64 * 1024, &e);
    if (!v) cli_report_error(ctx, &e);
    else if (!*v) {
        cb_free_secret(v);
        cb_fail(&e, CB_ERR, CB_K_INVALID, "%s: nothing on standard input", prompt);
        cli_report_error(ctx, &e);
        return NULL;
    }
    return v;
}

int cli_valid_name(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l > 64) return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

static void drop_args(int *argc, char **argv, int at, int n)
{
    for (int i = at; i + n <= *argc; i++) argv[i] = argv[i + n];
    *argc -= n;
}

const char *cli_take_opt(int *argc, char **argv, const char *opt)
{
    size_t ol = strlen(opt);
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], opt) == 0 && i + 1 < *argc) {
            const char *v = argv[i + 1];
            drop_args(argc, argv, i, 2);
            return v;
        }
        if (strncmp(argv[i], opt, ol) == 0 && argv[i][ol] == '=') {
            const char *v = argv[i] + ol + 1;
            drop_args(argc, argv, i, 1);
            return v;
        }
    }
    return NULL;
}

int cli_take_flag(int *argc, char **argv, const char *flag)
{
    int found = 0;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], flag) == 0) {
            drop_args(argc, argv, i, 1);
            found = 1;
            i--;
        }
    }
    return found;
}

int cli_no_unknown_opts(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "credbroker: unknown option %s (see --help)\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

void cli_say(cli_ctx *ctx, const char *fmt, ...)
{
    if (ctx->quiet || ctx->json) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

#include "store/audit.h"
#include "rotation/cron.h"
#include "policy/policy.h"

/* Policy files name cron schedules; they are checked by the parser the scheduler uses. */
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

int cli_init(cli_ctx *ctx, int *argc, char **argv, const char **bad)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->prog = "credbroker";
    ctx->paths.db_path = getenv("CREDBROKER_DB");
    ctx->paths.config_path = getenv("CREDBROKER_CONFIG");
    ctx->paths.policies_dir = getenv("CREDBROKER_POLICIES");
    /* an empty variable is unset */
    if (ctx->paths.db_path && !*ctx->paths.db_path) ctx->paths.db_path = NULL;
    if (ctx->paths.config_path && !*ctx->paths.config_path) ctx->paths.config_path = NULL;
    if (ctx->paths.policies_dir && !*ctx->paths.policies_dir) ctx->paths.policies_dir = NULL;
    ctx->config_explicit = ctx->paths.config_path != NULL;
    const char *lf = getenv("CREDBROKER_LOG_FORMAT");
    cb_log_json = lf && !strcmp(lf, "json");
    int rc = 0, n = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < *argc) argv[n++] = argv[i++];
            break;
        }
        if (strcmp(a, "--db") == 0 && i + 1 < *argc) { ctx->paths.db_path = argv[++i]; ctx->db_from = "--db"; }
        else if (strncmp(a, "--db=", 5) == 0) { ctx->paths.db_path = a + 5; ctx->db_from = "--db"; }
        /* --config/--policies before the command only: `policy check --policies D` is the command's */
        else if (strcmp(a, "--config") == 0 && i + 1 < *argc && n == 1) {
            ctx->paths.config_path = argv[++i]; ctx->config_from = "--config"; ctx->config_explicit = 1;
        }
        else if (strcmp(a, "--policies") == 0 && i + 1 < *argc && n == 1) { ctx->paths.policies_dir = argv[++i]; ctx->policies_from = "--policies"; }
        else if ((strcmp(a, "--log-format") == 0 && i + 1 < *argc) || strncmp(a, "--log-format=", 13) == 0) {
            const char *f = a[12] == '=' ? a + 13 : argv[++i];
            if (!strcmp(f, "json") || !strcmp(f, "text")) cb_log_json = !strcmp(f, "json");
            else if (!rc) { rc = 2; if (bad) *bad = "--log-format (want text or json)"; }
        }
        else if (strcmp(a, "--json") == 0) ctx->json = 1;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) ctx->quiet = 1;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) ctx->verbose++;
        else if (strcmp(a, "-vv") == 0) ctx->verbose += 2;
        else if (n == 1 && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) rc = rc ? rc : 1;
        else if (n == 1 && strcmp(a, "--version") == 0) rc = rc ? rc : 3;
        else if (n == 1 && a[0] == '-') {
            if (!rc) { rc = 2; if (bad) *bad = a; }
        } else argv[n++] = argv[i];
    }
    *argc = n;
    argv[n] = NULL;
    cli_default_paths(ctx);
    cli_config_master_key_ref(ctx);
    ctx->paths.actor = audit_cli_actor();
    cb_log_level = ctx->quiet ? 0 : 1 + ctx->verbose;
    if (ctx->verbose && !ctx->quiet && !rc) cli_say_paths(ctx);
    policy_schedule_validator = schedule_check;
    /* the audit anchor (credbroker.json audit.anchor) is written after every audited
     * commit by any command; a config that does not load is reported by the commands */
    cb_config *cfg = NULL;
    cb_error ce = {0};
    if (config_load(ctx->paths.config_path, 0, &cfg, NULL, &ce) == 0 && cfg) audit_set_anchor(cfg->audit_anchor);
    config_free(cfg);
    return rc;
}
