/* credbroker import mssqlmcp PATH: migrates the SQL Server MCP server's store
 * (table Connections(Name, ConnectionString, ServerType, Description, LastUsed, CreatedOn),
 * values plaintext or "ENC:" + base64(IV || AES-256-CBC), key from MSSQL_MCP_KEY).
 * The source is opened read-only and immutable: it is never modified. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sqlite3.h>
#include "store/audit.h"
#include "commands.h"
#include "conn/connstr.h"
#include "store/crypto.h"
#include "store/store.h"

static int usage(void)
{
    printf("usage: credbroker import mssqlmcp PATH [--replace]\n\n"
           "Imports every connection of an mssqlMCP SQLite store, re-encrypted under credbroker's scheme.\n"
           "ENC: values are decrypted with MSSQL_MCP_KEY (PBKDF2-SHA256, AES-256-CBC). Rows that cannot be\n"
           "decrypted or parsed are reported and not imported (exit 1); the source file is never changed.\n"
           "--replace overwrites connections that already exist (default: skip and report them).\n");
    return 0;
}

static const char *engine_of(const char *server_type)
{
    if (!server_type) return NULL;
    if (strcasestr(server_type, "postgres")) return "postgres";
    if (strcasestr(server_type, "mysql") || strcasestr(server_type, "maria")) return "mysql";
    if (strcasestr(server_type, "sqlite")) return "sqlite";
    if (strcasestr(server_type, "sql")) return "sqlserver";
    return NULL;
}

/* Decrypts an ENC: value or passes plaintext through. NULL + reason on failure. */
static char *reveal(const char *v, const char *key, const char **why, cb_error *e)
{
    if (strncmp(v, "ENC:", 4) != 0) return cb_strdup(v);
    if (!key || !*key) {
        *why = "encrypted and MSSQL_MCP_KEY is not set";
        return NULL;
    }
    char *out = NULL;
    if (cb_mssqlmcp_decrypt(key, v, &out, e)) {
        *why = e->msg;
        return NULL;
    }
    return out;
}

static int import_mssqlmcp(cli_ctx *ctx, int argc, char **argv)
{
    int replace = cli_take_flag(&argc, argv, "--replace");
    if (cli_no_unknown_opts(argc, argv) || argc != 2) return usage(), CB_EUSAGE;
    const char *path = argv[1];
    cb_error e = {0};
    char *uri = cb_sprintf("file:%s?mode=ro&immutable=1", path);
    sqlite3 *src = NULL;
    int r = sqlite3_open_v2(uri, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    free(uri);
    sqlite3_stmt *st = NULL;
    if (r != SQLITE_OK ||
        sqlite3_prepare_v2(src, "SELECT Name, ConnectionString, ServerType, Description FROM Connections ORDER BY rowid", -1, &st, NULL) != SQLITE_OK) {
        cb_fail(&e, CB_ERR, CB_K_INVALID, "%s is not an mssqlMCP store (%s)", path, src ? sqlite3_errmsg(src) : "cannot open");
        sqlite3_close(src);
        return cli_report_error(ctx, &e);
    }
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) {
        sqlite3_finalize(st);
        sqlite3_close(src);
        return rc;
    }
    const char *key = getenv("MSSQL_MCP_KEY");
    json_t *imported = json_array(), *failed = json_array(), *skipped = json_array();
    if (store_begin(s, &e)) {
        rc = cli_report_error(ctx, &e);
        goto out;
    }
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *cs = (const char *)sqlite3_column_text(st, 1);
        const char *stype = (const char *)sqlite3_column_text(st, 2);
        const char *desc_raw = (const char *)sqlite3_column_text(st, 3);
        const char *why = NULL;
        cb_error re = {0};
        if (!name || !cli_valid_name(name)) {
            json_array_append_new(failed, json_pack("{s:s?,s:s}", "name", name, "error", "invalid connection name"));
            continue;
        }
        if (!cs) {
            json_array_append_new(failed, json_pack("{s:s,s:s}", "name", name, "error", "empty connection string"));
            continue;
        }
        char *url = reveal(cs, key, &why, &re);
        char *desc = desc_raw ? reveal(desc_raw, key, &why, &re) : NULL;
        conn_url u = {0};
        if (!url || (desc_raw && !desc)) {
            json_array_append_new(failed, json_pack("{s:s,s:s}", "name", name, "error", why ? why : "cannot decrypt"));
        } else if (conn_url_parse(url, engine_of(stype), &u, &re)) {
            json_array_append_new(failed, json_pack("{s:s,s:s}", "name", name, "error", re.msg));
        } else {
            store_conn existing;
            int exists = store_conn_get(s, name, 0, &existing, NULL) == 0;
            if (exists) store_conn_free(&existing);
            if (exists && !replace) {
                json_array_append_new(skipped, json_pack("{s:s,s:s}", "name", name, "reason", "already exists (use --replace)"));
            } else {
                char *red = conn_url_redacted(&u);
                if (store_conn_put(s, name, u.engine, url, red, desc, NULL, replace, &re))
                    json_array_append_new(failed, json_pack("{s:s,s:s}", "name", name, "error", re.msg));
                else
                    json_array_append_new(imported, json_pack("{s:s,s:s,s:b}", "name", name, "engine", u.engine,
                                                              "was_encrypted", strncmp(cs, "ENC:", 4) == 0));
                free(red);
            }
            conn_url_free(&u);
        }
        cb_free_secret(url);
        cb_free_secret(desc);
    }
    if (r != SQLITE_DONE) {
        store_rollback(s);
        cb_fail(&e, CB_ERR, CB_K_INVALID, "reading %s: %s", path, sqlite3_errmsg(src));
        rc = cli_report_error(ctx, &e);
        goto out;
    }
    json_t *d = json_pack("{s:s,s:I,s:I,s:I}", "source", path, "imported", (json_int_t)json_array_size(imported),
                          "failed", (json_int_t)json_array_size(failed), "skipped", (json_int_t)json_array_size(skipped));
    audit_append(s, ctx->paths.actor, "import.mssqlmcp", path, json_array_size(failed) ? "partial" : "ok", d, cli_elapsed_ms(), NULL);
    json_decref(d);
    if (store_commit(s, &e)) {
        rc = cli_report_error(ctx, &e);
        goto out;
    }
    rc = json_array_size(failed) ? CB_ERR : 0;
    if (ctx->json) {
        cli_print_json(json_pack("{s:b,s:O,s:O,s:O}", "ok", rc == 0, "imported", imported, "failed", failed, "skipped", skipped));
    } else {
        size_t i;
        json_t *o;
        json_array_foreach(imported, i, o) cli_say(ctx, "imported %s (%s)", json_string_value(json_object_get(o, "name")),
                                                   json_string_value(json_object_get(o, "engine")));
        json_array_foreach(skipped, i, o) fprintf(stderr, "skipped %s: %s\n", json_string_value(json_object_get(o, "name")),
                                                  json_string_value(json_object_get(o, "reason")));
        json_array_foreach(failed, i, o) fprintf(stderr, "NOT imported %s: %s\n", json_is_string(json_object_get(o, "name")) ? json_string_value(json_object_get(o, "name")) : "(no name)",
                                                 json_string_value(json_object_get(o, "error")));
        cli_say(ctx, "%zu imported, %zu failed, %zu skipped", json_array_size(imported), json_array_size(failed), json_array_size(skipped));
    }
out:
    json_decref(imported);
    json_decref(failed);
    json_decref(skipped);
    sqlite3_finalize(st);
    sqlite3_close(src);
    store_close(s);
    return rc;
}

int cmd_import(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2) return usage(), CB_EUSAGE;
    if (cli_wants_help(argc, argv)) return usage();
    if (strcmp(argv[1], "mssqlmcp") == 0) return import_mssqlmcp(ctx, argc - 1, argv + 1);
    fprintf(stderr, "credbroker: unknown import source '%s' (supported: mssqlmcp)\n", argv[1]);
    return CB_EUSAGE;
}
