/* credbroker init / verify */
#include <stdio.h>
#include <string.h>
#include "store/audit.h"
#include "commands.h"
#include "store/store.h"

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
