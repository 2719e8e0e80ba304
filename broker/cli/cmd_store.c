/* credbroker init / verify / store migrate */
#include <stdio.h>
#include <string.h>
#include "store/audit.h"
#include "commands.h"
#include "store/store.h"
#include "store/store_migrate.h"

int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: credbroker init\n\nCreates an encrypted store at --db (default: see credbroker --help; -v prints it), mode 0600.\n"
               "The master key comes from CREDBROKER_MASTER_KEY or CREDBROKER_MASTER_KEY_REF.\n"
               "A 32-byte key (64 hex chars or base64, see 'credbroker key generate') is used through HKDF-SHA256;\n"
               "anything else is a passphrase, stretched with Argon2id (m=64 MiB, t=3, p=1).\n");
        return 0;
    }
    if (cli_no_unknown_opts(argc, argv) || argc > 1) return CB_EUSAGE;
    cb_error e = {0};
    char *key = NULL;
    const char *src = NULL;
    if (store_master_key_from_env(&key, &src, &e)) return cli_report_error(ctx, &e);
    /* a default location (XDG, /var/lib/credbroker) may not exist yet */
    if (!sdb_is_url(ctx->paths.db_path) && cli_make_parent_dir(ctx->paths.db_path, &e)) { cb_free_secret(key); return cli_report_error(ctx, &e); }
    int rc = store_create(ctx->paths.db_path, key, &e);
    cb_free_secret(key);
    if (rc) return cli_report_error(ctx, &e);
    cb_store *s;
    if ((rc = cli_open_store(ctx, &s))) return rc;
    store_kdf k;
    store_get_kdf(s, &k);
    json_t *d = json_pack("{s:s,s:s}", "kdf", k.kdf, "key_source", src);
    audit_append(s, ctx->paths.actor, "store.init", ctx->paths.db_path, "ok", d, cli_elapsed_ms(), NULL);
    json_decref(d);
    store_close(s);
    if (ctx->json) cli_print_json(json_pack("{s:b,s:s,s:s}", "ok", 1, "store", ctx->paths.db_path, "kdf", k.kdf));
    else if (sdb_is_url(ctx->paths.db_path)) {
        char where[1200];
        sdb_describe(ctx->paths.db_path, where, sizeof where);
        cli_say(ctx, "created store %s (kdf %s)", where, k.kdf);
    }
    else cli_say(ctx, "created store %s (kdf %s, mode 0600)", ctx->paths.db_path, k.kdf);
    return 0;
}

int cmd_verify(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: credbroker verify\n\nAuthenticates and decrypts every encrypted value (nothing is printed).\n"
               "Exit 3 naming each row that fails (tampered, corrupted or unencrypted).\n");
        return 0;
    }
    if (cli_no_unknown_opts(argc, argv) || argc > 1) return CB_EUSAGE;
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    cb_error e = {0};
    json_t *fails = json_array();
    int checked = 0;
    rc = store_verify(s, fails, &checked, &e);
    json_t *d = json_pack("{s:i,s:I}", "checked", checked, "failed", (json_int_t)json_array_size(fails));
    audit_append(s, ctx->paths.actor, "store.verify", ctx->paths.db_path, rc ? "findings" : "ok", d, cli_elapsed_ms(), NULL);
    json_decref(d);
    store_close(s);
    if (rc && rc != CB_EFINDINGS) {
        json_decref(fails);
        return cli_report_error(ctx, &e);
    }
    if (ctx->json) {
        cli_print_json(json_pack("{s:b,s:i,s:o}", "ok", rc == 0, "checked", checked, "failures", fails));
    } else {
        size_t i;
        json_t *f;
        json_array_foreach(fails, i, f)
            printf("FAIL %s %s.%s: %s\n", json_string_value(json_object_get(f, "table")),
                   json_string_value(json_object_get(f, "row")), json_string_value(json_object_get(f, "column")),
                   json_string_value(json_object_get(f, "error")));
        if (!ctx->quiet) printf("%d encrypted values checked, %zu failed\n", checked, json_array_size(fails));
        json_decref(fails);
    }
    return rc;
}

static int store_usage(FILE *f)
{
    fprintf(f, "usage: credbroker store migrate --to TARGET [--json]\n\n"
               "Copies the store (--db / CREDBROKER_DB, opened read-only and never written) into a new store at\n"
               "TARGET: a file path that does not exist yet, or a postgresql:// URL (no password in it: PGPASSWORD,\n"
               "~/.pgpass or CREDBROKER_DB_REF) whose schema holds no table. Every row of every table is copied as\n"
               "is, in one transaction on the target; before it commits, the target is unlocked with the same master\n"
               "key, every encrypted value is authenticated, the audit chain is verified and each table is compared\n"
               "with the source. Any failure rolls the target back (exit 1, nothing left behind). The move is\n"
               "recorded as one audit entry (store.migrate) at the end of the target's chain. Refused while a\n"
               "rotation is in progress (credbroker rotate --journal). -v names both backends.\n");
    return f == stdout ? 0 : CB_EUSAGE;
}

static int store_migrate_cmd(cli_ctx *ctx, int argc, char **argv)
{
    const char *to = cli_take_opt(&argc, argv, "--to");
    if (cli_no_unknown_opts(argc, argv) || argc > 1 || !to || !*to) return store_usage(stderr);
    cb_error e = {0};
    if (store_location_has_password(to)) {
        /* argv is visible to every user of the machine (ps, /proc): refuse, and never echo it */
        cb_fail(&e, CB_EUSAGE, CB_K_INVALID, "--to: the URL carries a password; give it through PGPASSWORD, ~/.pgpass "
                "or CREDBROKER_DB_REF instead (a command line is visible to every user of the machine)");
        return cli_report_error(ctx, &e);
    }
    cb_store *s;
    /* read-only: no migration, no audit row, not a byte changes in the source */
    if (store_open_unlocked_readonly(ctx->paths.db_path, &s, &e)) return cli_report_error(ctx, &e);
    json_t *rep = json_object();
    int rc = store_migrate(s, to, ctx->paths.actor, rep, &e);
    store_close(s);
    if (ctx->verbose) {
        json_t *a = json_object_get(rep, "source"), *b = json_object_get(rep, "target");
        if (a && b)
            fprintf(stderr, "credbroker: source: %s store %s\ncredbroker: target: %s store %s\n",
                    json_string_value(json_object_get(a, "backend")), json_string_value(json_object_get(a, "location")),
                    json_string_value(json_object_get(b, "backend")), json_string_value(json_object_get(b, "location")));
    }
    if (!rc && ctx->json) {
        json_object_set_new(rep, "ok", json_true());
        cli_print_json(rep);
        return 0;
    }
    if (rc) {
        /* the rows that failed verification (names only, never a value) */
        size_t i;
        json_t *f;
        if (!ctx->json) {
            json_array_foreach(json_object_get(rep, "failures"), i, f)
                fprintf(stderr, "FAIL %s %s.%s: %s\n", json_string_value(json_object_get(f, "table")),
                        json_string_value(json_object_get(f, "row")), json_string_value(json_object_get(f, "column")),
                        json_string_value(json_object_get(f, "error")));
            json_array_foreach(json_object_get(rep, "problems"), i, f)
                fprintf(stderr, "FAIL audit %lld: %s\n", (long long)json_integer_value(json_object_get(f, "id")),
                        json_string_value(json_object_get(f, "problem")));
        }
        json_decref(rep);
        return cli_report_error(ctx, &e);
    }
    if (!ctx->quiet) {
        json_t *a = json_object_get(rep, "source"), *b = json_object_get(rep, "target"), *t;
        printf("copied %s (%s) to %s (%s) in one transaction:\n", json_string_value(json_object_get(a, "location")),
               json_string_value(json_object_get(a, "backend")), json_string_value(json_object_get(b, "location")),
               json_string_value(json_object_get(b, "backend")));
        size_t i;
        json_array_foreach(json_object_get(rep, "tables"), i, t)
            printf("  %-18s %lld\n", json_string_value(json_object_get(t, "table")),
                   (long long)json_integer_value(json_object_get(t, "rows")));
        printf("%lld rows; %lld encrypted values authenticate, %lld audit entries verify on the target; "
               "audit entry %lld records the move\n",
               (long long)json_integer_value(json_object_get(rep, "rows")),
               (long long)json_integer_value(json_object_get(rep, "sealed_verified")),
               (long long)json_integer_value(json_object_get(rep, "audit_verified")),
               (long long)json_integer_value(json_object_get(rep, "audit_entry")));
    }
    json_decref(rep);
    return 0;
}

int cmd_store(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2) return store_usage(stderr);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) return store_usage(stdout);
    if (strcmp(argv[1], "migrate") == 0) {
        if (cli_wants_help(argc - 1, argv + 1)) return store_usage(stdout);
        return store_migrate_cmd(ctx, argc - 1, argv + 1);
    }
    fprintf(stderr, "credbroker store: unknown subcommand %s\n", argv[1]);
    return store_usage(stderr);
}
