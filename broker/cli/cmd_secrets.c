/* credbroker get REF | sync [--force] | cache list: the secret managers from the CLI. */
#include <stdio.h>
#include <string.h>
#include "store/audit.h"
#include "commands.h"
#include "policy/config.h"
#include "secrets/secret_provider.h"
#include "conn/sources.h"
#include "store/store.h"

/* Loads credbroker.json (absent is fine unless the path was given explicitly). */
int cli_load_config(cli_ctx *ctx, cb_config **cfg)
{
    cb_error e = {0};
    cb_diags d = {0};
    int rc = config_load(ctx->paths.config_path, config_path_explicit(ctx->paths.config_path), cfg, &d, &e);
    cb_diags_free(&d);
    if (rc) return cli_report_error(ctx, &e);
    return 0;
}

int cmd_get(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: credbroker get REF\n\nPrints one secret from a provider (aws-sm://, azure-kv://, vault://, env://, file://),\n"
               "'#field' selects a JSON field. The read is audited (never the value).\n");
        return 0;
    }
    if (cli_no_unknown_opts(argc, argv) || argc != 2) {
        fprintf(stderr, "credbroker: get takes one reference\n");
        return CB_EUSAGE;
    }
    cb_error e = {0};
    secret_ref r;
    if (secret_ref_parse(argv[1], &r, &e)) return cli_report_error(ctx, &e);
    secret_ref_free(&r);
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    secret_value v;
    rc = secret_fetch(argv[1], &v, &e);
    json_t *d = rc ? json_pack("{s:s}", "error", e.msg) : json_pack("{s:s?}", "version", v.version);
    cb_error ae = {0};
    int arc = audit_append(s, ctx->paths.actor, "secret.get", argv[1], rc ? "error" : "ok", d, cli_elapsed_ms(), &ae);
    json_decref(d);
    store_close(s);
    if (rc) return cli_report_error(ctx, &e);
    /* no unaudited secret read: the value is printed only once its audit row is committed */
    if (arc) {
        secret_value_free(&v);
        cb_fail(&e, CB_ERR, ae.kind, "the audit row could not be written (%s): the secret is not printed", ae.msg);
        return cli_report_error(ctx, &e);
    }
    if (ctx->json) cli_print_json(json_pack("{s:s,s:s?,s:s}", "ref", argv[1], "version", v.version, "value", v.value));
    else printf("%s\n", v.value);
    secret_value_free(&v);
    return 0;
}

int cmd_sync(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: credbroker sync [--force]\n\nPulls every source of credbroker.json (\"sources\": connection -> reference, ttl_s,\n"
               "max_staleness_s) into the encrypted store. Fresh entries (younger than ttl_s) are kept\n"
               "unless --force. When a provider fails, the cached value stays usable until it is older\n"
               "than max_staleness_s (a warning is printed); after that its use fails closed. Exit 1 if a\n"
               "source could not be fetched and has no usable cached value.\n");
        return 0;
    }
    int force = cli_take_flag(&argc, argv, "--force");
    if (cli_no_unknown_opts(argc, argv) || argc != 1) return CB_EUSAGE;
    cb_config *cfg = NULL;
    int rc = cli_load_config(ctx, &cfg);
    if (rc) return rc;
    cb_store *s;
    if ((rc = cli_open_store(ctx, &s))) {
        config_free(cfg);
        return rc;
    }
    json_t *rep = json_array();
    cb_error e = {0};
    rc = sources_sync(s, cfg, force, rep, &e);
    size_t i;
    json_t *o;
    json_array_foreach(rep, i, o) {
        const char *out = json_string_value(json_object_get(o, "outcome"));
        json_t *d = json_pack("{s:O?,s:s}", "version", json_object_get(o, "version"), "outcome", out);
        if (strcmp(out, "fresh") != 0)
            audit_append(s, ctx->paths.actor, "source.sync", json_string_value(json_object_get(o, "name")),
                         strcmp(out, "ok") == 0 ? "ok" : out, d, cli_elapsed_ms(), NULL);
        json_decref(d);
        if (strcmp(out, "stale") == 0)
            LOG_WARN("%s: provider failed (%s); the cached value is still within max staleness",
                     json_string_value(json_object_get(o, "name")), json_string_value(json_object_get(o, "error")));
    }
    store_close(s);
    if (ctx->json) {
        cli_print_json(json_pack("{s:b,s:O}", "ok", rc == 0, "sources", rep));
    } else {
        json_array_foreach(rep, i, o) {
            json_t *err = json_object_get(o, "error");
            printf("%-20s %-6s %s%s%s\n", json_string_value(json_object_get(o, "name")),
                   json_string_value(json_object_get(o, "outcome")), json_string_value(json_object_get(o, "ref")),
                   err ? ": " : "", err ? json_string_value(err) : "");
        }
        if (!cfg || cfg->nsources == 0) cli_say(ctx, "no sources configured (credbroker.json \"sources\")");
    }
    json_decref(rep);
    config_free(cfg);
    return rc ? cli_report_error(ctx, &e) : 0;
}

int cmd_cache(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv) || argc < 2 || strcmp(argv[1], "list") != 0) {
        printf("usage: credbroker cache list\n\nWhat is cached from the secret managers: reference, version, age and state\n"
               "(fresh, stale, expired, failed); never a value.\n");
        return argc < 2 || (argc >= 2 && strcmp(argv[1], "list") != 0 && !cli_wants_help(argc, argv)) ? CB_EUSAGE : 0;
    }
    if (cli_no_unknown_opts(argc - 1, argv + 1) || argc != 2) return CB_EUSAGE;
    cb_config *cfg = NULL;
    int rc = cli_load_config(ctx, &cfg);
    if (rc) return rc;
    cb_store *s;
    if ((rc = cli_open_store(ctx, &s))) {
        config_free(cfg);
        return rc;
    }
    json_t *arr;
    cb_error e = {0};
    rc = sources_list(s, cfg, &arr, &e);
    store_close(s);
    config_free(cfg);
    if (rc) return cli_report_error(ctx, &e);
    if (ctx->json) {
        cli_print_json(arr);
        return 0;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        json_t *age = json_object_get(o, "age_s");
        char agebuf[32] = "-";
        if (json_is_integer(age)) snprintf(agebuf, sizeof agebuf, "%llds", (long long)json_integer_value(age));
        printf("%-20s %-8s age %-10s version %-38s %s\n", json_string_value(json_object_get(o, "name")),
               json_string_value(json_object_get(o, "state")), agebuf,
               json_is_string(json_object_get(o, "version")) ? json_string_value(json_object_get(o, "version")) : "-",
               json_string_value(json_object_get(o, "ref")));
    }
    if (!json_array_size(arr)) cli_say(ctx, "nothing cached (credbroker sync)");
    json_decref(arr);
    return 0;
}
