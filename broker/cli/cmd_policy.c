/* `credbroker policy check|show|reload` (see cmd_policy.h). */
#include "cmd_policy.h"
#include <stdlib.h>
#include <string.h>
#include "store/audit.h"
#include "store/store.h"
#include "policy/config.h"
#include "policy/policy.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: credbroker policy check [--policies DIR] [--config FILE] [--json]\n"
               "       credbroker policy show  [--policies DIR] [--json]\n"
               "       credbroker policy reload\n"
               "check validates every policies/*.json and credbroker.json and lists every error as\n"
               "file:line:column: message (exit 2); show prints the merged effective policy.\n"
               "reload asks every `serve` sharing the store to reload its policy files and credbroker.json\n"
               "(as SIGHUP does for one) within a second; each one audits its reload (serve.reload).\n");
}

static void print_errors(const cli_ctx *ctx, const cb_diags *d, json_t *summary)
{
    if (ctx->json) {
        json_t *errs = json_array();
        for (size_t i = 0; i < d->count; i++) {
            const cb_diag *g = &d->items[i];
            json_array_append_new(errs, json_pack("{s:s,s:i,s:i,s:s}", "file", g->file, "line", g->line,
                                                  "column", g->column, "message", g->message));
        }
        json_object_set_new(summary, "ok", json_false());
        json_object_set_new(summary, "errors", errs);
        cli_print_json(summary);
        return;
    }
    json_decref(summary);
    for (size_t i = 0; i < d->count; i++) {
        char *line = cb_diag_format(&d->items[i]);
        fprintf(stderr, "%s\n", line);
        free(line);
    }
    fprintf(stderr, "credbroker: %zu error%s\n", d->count, d->count == 1 ? "" : "s");
}

static const char *classes_text(unsigned bits, char out[40])
{
    static const char *const names[] = {"lower", "upper", "digit", "symbol"};
    size_t o = 0;
    out[0] = 0;
    for (int k = 0; k < 4; k++)
        if (bits & (1u << k)) o += (size_t)snprintf(out + o, 40 - o, "%s%s", o ? "," : "", names[k]);
    return out;
}

static void print_list(int all, char *const *v, size_t n)
{
    if (all) { fputs("*", stdout); return; }
    if (n == 0) { fputs("(none)", stdout); return; }
    for (size_t i = 0; i < n; i++) printf("%s%s", i ? "," : "", v[i]);
}

static void show_text(const cb_policy *p)
{
    const policy_requirements *r = &p->requirements;
    printf("files:");
    for (size_t i = 0; i < p->nfiles; i++) printf(" %s", p->files[i]);
    printf("%s\n", p->nfiles ? "" : " (none)");
    printf("requirements:\n");
    if (r->min_sslmode) printf("  min_sslmode %s  (%s:%d:%d)\n", policy_sslmode_name(r->min_sslmode),
                               r->min_sslmode_origin.file, r->min_sslmode_origin.line, r->min_sslmode_origin.column);
    if (r->max_connect_timeout_s) printf("  max_connect_timeout_s %d  (%s:%d:%d)\n", r->max_connect_timeout_s,
                                         r->max_connect_timeout_origin.file, r->max_connect_timeout_origin.line,
                                         r->max_connect_timeout_origin.column);
    if (r->require_encryption >= 0) printf("  require_encryption %s  (%s:%d:%d)\n", r->require_encryption ? "true" : "false",
                                           r->require_encryption_origin.file, r->require_encryption_origin.line,
                                           r->require_encryption_origin.column);
    printf("credentials: %zu\n", p->ncredentials);
    for (size_t i = 0; i < p->ncredentials; i++) {
        const policy_credential *c = &p->credentials[i];
        char cls[40];
        printf("  %s  (%s:%d:%d)\n", c->name, c->origin.file, c->origin.line, c->origin.column);
        printf("    connection %s, admin_connection %s\n", c->connection, c->admin_connection ? c->admin_connection : "(self)");
        printf("    schedule %s, timezone %s\n", c->schedule ? c->schedule : "(none: manual only)", c->timezone);
        printf("    strategy %s", policy_strategy_name(c->strategy));
        if (c->users[0]) printf(", users %s,%s", c->users[0], c->users[1]);
        if (c->alternate_connection) printf(", alternate_connection %s", c->alternate_connection);
        printf("\n    password length %d, classes %s, exclude %s\n", c->password.length,
               classes_text(c->password.classes, cls), c->password.exclude[0] ? c->password.exclude : "(nothing)");
        printf("    publish_to %s\n", c->publish_to ? c->publish_to : "(none)");
    }
    printf("clients: %zu\n", p->nclients);
    for (size_t i = 0; i < p->nclients; i++) {
        const policy_client *c = &p->clients[i];
        printf("  %s  (%s:%d:%d)\n    tools ", c->name, c->origin.file, c->origin.line, c->origin.column);
        print_list(c->all_tools, c->tools, c->ntools);
        printf("\n    connections ");
        print_list(c->all_connections, c->connections, c->nconnections);
        printf("\n    mode %s, max_rows %d, statement_timeout_ms %d, max_bytes %lld, rate_limit_per_min %d\n",
               policy_mode_name(c->mode), c->max_rows, c->statement_timeout_ms, c->max_bytes, c->rate_limit_per_min);
        printf("    reveal %s, sensitive_params %s, admin %s\n", c->reveal ? "true" : "false",
               c->sensitive_params ? "true" : "false", c->admin ? "true" : "false");
    }
    if (policy_is_empty(p)) printf("note: the policy grants nothing (no credentials, no clients)\n");
}

/* Migration to tool classes: "*" used to grant every tool. Names what each such client
 * lost (printed on stderr unless json; returned as an array of strings). */
static json_t *class_warnings(const cb_policy *p, int quiet)
{
    json_t *w = json_array();
    for (size_t i = 0; i < p->nclients; i++) {
        const policy_client *c = &p->clients[i];
        const char **lost = NULL;
        size_t n = policy_client_lost_tools(c, &lost);
        if (!n) continue;
        cb_buf b;
        cb_buf_init(&b, 1);
        for (size_t k = 0; k < n; k++) {
            if (k) cb_buf_append(&b, ", ", 2);
            cb_buf_append(&b, lost[k], strlen(lost[k]));
        }
        char *msg = cb_sprintf("%s:%d:%d: client '%s': \"*\" grants read-only tools only (tool classes); no longer "
                               "granted: %s. Name the admin tools you need in \"tools\", or set \"admin\": true",
                               c->origin.file, c->origin.line, c->origin.column, c->name, b.data);
        if (!quiet) fprintf(stderr, "credbroker: warning: %s\n", msg);
        json_array_append_new(w, json_string(msg));
        free(msg);
        cb_buf_free(&b);
        free(lost);
    }
    return w;
}

/* Bumps generation "policy" in the store: every broker serving it notices within its
 * poll (fleet_sync.c) and reloads its own files, so one command reaches a fleet whose
 * files were pushed by configuration management (SIGHUP stays local to one process: the
 * files may not have reached the other machines yet). The files here are checked first:
 * a command run next to a broken policy says so instead of making every broker log it. */
static int policy_reload(cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "credbroker: policy reload: unexpected argument '%s'\n", argv[2]);
        usage(stderr);
        return CB_EUSAGE;
    }
    cb_diags d = {0};
    cb_error e = {0};
    cb_policy *p = NULL;
    int bad = policy_load(ctx->paths.policies_dir ? ctx->paths.policies_dir : POLICY_DEFAULT_DIR, &p, &d, &e) &&
              e.kind != CB_K_NOTFOUND;
    policy_free(p);
    if (bad || d.count) {
        if (d.count) print_errors(ctx, &d, json_object());
        else cli_report_error(ctx, &e);
        cb_diags_free(&d);
        fprintf(stderr, "credbroker: policy reload: not requested (fix the files above first)\n");
        return CB_EUSAGE;
    }
    cb_diags_free(&d);
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    memset(&e, 0, sizeof e);
    if (!(rc = store_begin(s, &e)) && !(rc = store_generation_bump(s, "policy", &e))) rc = store_commit(s, &e);
    else store_rollback(s);
    int64_t gen = store_generation(store_db(s), "policy");
    if (!rc) {
        json_t *dt = json_pack("{s:I}", "generation", (json_int_t)gen);
        if (audit_append(s, ctx->paths.actor ? ctx->paths.actor : audit_cli_actor(), "policy.reload", NULL, "ok", dt, 0, &e))
            rc = e.code ? e.code : CB_ERR;
        json_decref(dt);
    }
    store_close(s);
    if (rc) return cli_report_error(ctx, &e);
    if (ctx->json) cli_print_json(json_pack("{s:b,s:I}", "ok", 1, "generation", (json_int_t)gen));
    else printf("policy reload requested (generation %lld): every broker serving this store reloads within a second\n",
                (long long)gen);
    return 0;
}

int cmd_policy(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CB_EUSAGE : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "reload") == 0) return policy_reload(ctx, argc, argv);
    if (strcmp(sub, "check") != 0 && strcmp(sub, "show") != 0) {
        fprintf(stderr, "credbroker: policy: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return CB_EUSAGE;
    }
    const char *dir = ctx->paths.policies_dir, *cfg_path = ctx->paths.config_path;
    int cfg_explicit = config_path_explicit(cfg_path);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--policies") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strncmp(a, "--policies=", 11) == 0) dir = a + 11;
        else if (strcmp(a, "--config") == 0 && i + 1 < argc) { cfg_path = argv[++i]; cfg_explicit = 1; }
        else if (strncmp(a, "--config=", 9) == 0) { cfg_path = a + 9; cfg_explicit = 1; }
        else if (strcmp(a, "--json") == 0) ctx->json = 1;
        else {
            fprintf(stderr, "credbroker: policy %s: unexpected argument '%s'\n", sub, a);
            usage(stderr);
            return CB_EUSAGE;
        }
    }
    if (!dir) dir = POLICY_DEFAULT_DIR;
    if (!cfg_path) cfg_path = CONFIG_DEFAULT_PATH;

    cb_diags d = {0};
    cb_error e = {0};
    cb_policy *p = NULL;
    cb_config *cfg = NULL;
    policy_load(dir, &p, &d, &e);
    int check = strcmp(sub, "check") == 0;
    if (check) config_load(cfg_path, cfg_explicit, &cfg, &d, &e);

    int rc = 0;
    json_t *summary = json_pack("{s:i,s:i,s:i}", "credentials", p ? (int)p->ncredentials : 0,
                                "clients", p ? (int)p->nclients : 0, "files", p ? (int)p->nfiles : 0);
    if (d.count) {
        print_errors(ctx, &d, summary);
        rc = CB_EUSAGE;
    } else if (check) {
        json_t *warn = class_warnings(p, ctx->json);
        if (ctx->json) {
            json_object_set_new(summary, "warnings", warn);
            json_object_set_new(summary, "ok", json_true());
            json_object_set_new(summary, "errors", json_array());
            json_object_set_new(summary, "empty", json_boolean(policy_is_empty(p)));
            json_object_set_new(summary, "config", cfg->file ? json_string(cfg->file) : json_null());
            json_object_set_new(summary, "sources", json_integer((json_int_t)cfg->nsources));
            cli_print_json(summary);
        } else {
            json_decref(summary);
            printf("%zu credentials, %zu clients in %zu files\n", p->ncredentials, p->nclients, p->nfiles);
            if (cfg->file) printf("config %s: %zu sources, listen %s\n", cfg->file, cfg->nsources, cfg->listen);
            else printf("config: %s not present, defaults (listen %s)\n", cfg_path, cfg->listen);
            if (policy_is_empty(p)) fprintf(stderr, "credbroker: warning: the policy grants nothing (no credentials, no clients)\n");
            json_decref(warn);
        }
    } else {
        json_decref(summary);
        if (ctx->json) cli_print_json(policy_to_json(p));
        else show_text(p);
    }
    cb_diags_free(&d);
    policy_free(p);
    config_free(cfg);
    return rc;
}
