/* credbroker audit list | verify */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/audit.h"
#include "commands.h"

static int usage(void)
{
    printf("usage: credbroker audit list [--limit N] [--since TIME]\n"
           "       credbroker audit verify\n\n"
           "TIME is ISO 8601 (2024-01-05T16:50:00Z) or a relative age like 24h, 7d, 30m.\n"
           "verify exits 3 if any entry was altered, removed or reordered.\n");
    return 0;
}

static int parse_since(const char *s, int64_t *out)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end != s && n >= 0 && end[0] && !end[1]) {
        long mul = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : end[0] == 'd' ? 86400 : 0;
        if (mul) {
            *out = cb_now() - (int64_t)n * mul;
            return 0;
        }
    }
    return cb_parse_iso8601(s, out);
}

int cmd_audit(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) return argc < 2 ? (usage(), CB_EUSAGE) : usage();
    const char *sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "list") == 0) {
        const char *lim = cli_take_opt(&argc, argv, "--limit"), *since = cli_take_opt(&argc, argv, "--since");
        if (cli_no_unknown_opts(argc, argv) || argc > 1) return CB_EUSAGE;
        int limit = 50;
        int64_t t = 0;
        if (lim) {
            char *end;
            long l = strtol(lim, &end, 10);
            if (*end || l < 0 || l > 1000000) { fprintf(stderr, "credbroker: --limit takes a number 0..1000000\n"); return CB_EUSAGE; }
            limit = (int)l;
        }
        if (since && parse_since(since, &t)) { fprintf(stderr, "credbroker: --since: cannot parse '%s'\n", since); return CB_EUSAGE; }
        cb_store *s;
        int rc = cli_open_store(ctx, &s);
        if (rc) return rc;
        json_t *arr;
        cb_error e = {0};
        rc = audit_list(s, limit, t, &arr, &e);
        store_close(s);
        if (rc) return cli_report_error(ctx, &e);
        if (ctx->json) {
            cli_print_json(arr);
            return 0;
        }
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o) {
            json_t *d = json_object_get(o, "detail");
            char *ds = d && !json_is_null(d) ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            printf("%5lld %s %-16s %-22s %-20s %-8s %s\n", (long long)json_integer_value(json_object_get(o, "id")),
                   json_string_value(json_object_get(o, "time")), json_string_value(json_object_get(o, "actor")),
                   json_string_value(json_object_get(o, "action")),
                   json_is_string(json_object_get(o, "target")) ? json_string_value(json_object_get(o, "target")) : "-",
                   json_string_value(json_object_get(o, "outcome")), ds ? ds : "");
            free(ds);
        }
        json_decref(arr);
        return 0;
    }
    if (strcmp(sub, "verify") == 0) {
        if (cli_no_unknown_opts(argc, argv) || argc > 1) return CB_EUSAGE;
        cb_store *s;
        /* the anchor comes from credbroker.json: a config that does not load is an error here */
        struct cb_config *cfg = NULL;
        int rc = cli_load_config(ctx, &cfg);
        if (rc) return rc;
        audit_set_anchor(cfg->audit_anchor);
        config_free(cfg);
        rc = cli_open_store(ctx, &s);
        if (rc) return rc;
        json_t *problems = json_array();
        long checked = 0;
        cb_error e = {0};
        rc = audit_verify(s, problems, &checked, &e);
        /* the store against its anchor (credbroker.json audit.anchor): a rolled-back copy */
        cb_error ae = {0};
        int ar = rc && rc != CB_EFINDINGS ? 0 : audit_anchor_check(s, problems, &ae);
        if (ar && ar != CB_EFINDINGS) { rc = ar; e = ae; }
        else if (ar && !rc) rc = ar;
        store_close(s);
        if (rc && rc != CB_EFINDINGS) {
            json_decref(problems);
            return cli_report_error(ctx, &e);
        }
        if (ctx->json) {
            cli_print_json(json_pack("{s:b,s:I,s:o}", "ok", rc == 0, "checked", (json_int_t)checked, "problems", problems));
        } else {
            size_t i;
            json_t *p;
            json_array_foreach(problems, i, p)
                printf("entry %lld: %s\n", (long long)json_integer_value(json_object_get(p, "id")),
                       json_string_value(json_object_get(p, "problem")));
            if (!ctx->quiet) printf("%ld audit entries checked: %s%s\n", checked, rc ? "TAMPERED" : "chain intact",
                                    audit_has_anchor() ? (rc ? "" : ", matches its anchor") : " (no anchor: a rollback of the whole store cannot be detected)");
            json_decref(problems);
        }
        return rc;
    }
    fprintf(stderr, "credbroker: unknown audit subcommand '%s'\n", sub);
    return CB_EUSAGE;
}
