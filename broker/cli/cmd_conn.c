/* credbroker conn add|list|show|remove|url|update. URLs come from stdin (or a provider
 * reference), never from argv; everything printed is redacted except `conn url`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/audit.h"
#include "commands.h"
#include "conn/connstr.h"
#include "conn/conn_redacted.h"
#include "secrets/secret_provider.h"
#include "conn/sources.h"
#include "store/store.h"
#include "policy/policy.h"
#include "rotation/rotation.h"

static int usage(void)
{
    printf("usage: credbroker conn add NAME [--engine postgres|sqlserver|mysql|sqlite] [--description TEXT] [--from-ref REF]\n"
           "       credbroker conn update NAME [--description TEXT] [--from-ref REF]\n"
           "       credbroker conn list\n"
           "       credbroker conn show NAME\n"
           "       credbroker conn url NAME       (prints the plaintext URL; audited)\n"
           "       credbroker conn remove NAME\n\n"
           "add/update read the connection string from standard input (never from the command line):\n"
           "postgresql:// URIs, libpq key=value strings, mysql://, sqlserver://, or ADO.NET strings\n"
           "(Server=..;Database=..;User Id=..;Password=..). With --from-ref the URL is fetched from a\n"
           "secret manager (aws-sm://, azure-kv://, vault://, env://, file://) and cached encrypted.\n");
    return 0;
}

static const char *ENGINES[] = {"postgres", "sqlserver", "mysql", "sqlite", NULL};

static int valid_engine(const char *e)
{
    for (int i = 0; ENGINES[i]; i++)
        if (strcmp(ENGINES[i], e) == 0) return 1;
    return 0;
}

static json_t *conn_json(const store_conn *c, const char *redacted)
{
    char t1[32] = "", t2[32] = "", t3[32] = "", t4[32] = "";
    if (c->created_at) cb_iso8601(c->created_at, t1);
    if (c->updated_at) cb_iso8601(c->updated_at, t2);
    if (c->last_used) cb_iso8601(c->last_used, t3);
    if (c->last_rotated) cb_iso8601(c->last_rotated, t4);
    return json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:s,s:s?,s:s?}", "name", c->name, "engine", c->engine,
                     "description", c->description, "url", redacted ? redacted : c->redacted, "source", c->source_ref,
                     "encryption", c->encrypted ? "aes-256-gcm" : "NONE (run credbroker key migrate)",
                     "created_at", t1, "last_used", c->last_used ? t3 : NULL, "last_rotated", c->last_rotated ? t4 : NULL);
}

/* Reads and validates a URL (stdin or ref). *url: cb_free_secret. */
static int read_url(cli_ctx *ctx, const char *ref, const char *engine, char **url, conn_url *parsed, char **version)
{
    cb_error e = {0};
    *url = NULL;
    *version = NULL;
    if (ref) {
        secret_ref r;
        if (secret_ref_parse(ref, &r, &e)) return cli_report_error(ctx, &e);
        secret_ref_free(&r);
        secret_value v;
        if (secret_fetch(ref, &v, &e)) return cli_report_error(ctx, &e);
        *url = cb_strdup(v.value);
        *version = v.version ? cb_strdup(v.version) : NULL;
        secret_value_free(&v);
    } else {
        *url = cli_read_secret_stdin(ctx, "connection string");
        if (!*url) return CB_ERR;
    }
    if (conn_url_parse(*url, engine, parsed, &e)) {
        cb_free_secret(*url);
        *url = NULL;
        free(*version);
        *version = NULL;
        cb_error_prefix(&e, "invalid connection string%s", ref ? " from reference" : "");
        e.code = CB_ERR;
        return cli_report_error(ctx, &e);
    }
    return 0;
}

/* A connection below requirements.min_sslmode is stored (the operator may be fixing the
 * policy next), but said so: rotation and MCP queries will refuse it. sslmode=disable or
 * allow without a requirement is still worth a word. */
static void sslmode_warning(cli_ctx *ctx, const char *name, const conn_url *u)
{
    if (ctx->quiet) return;
    cb_policy *p = NULL;
    cb_error e = {0};
    if (policy_load(ctx->paths.policies_dir, &p, NULL, &e) == 0 && p) {
        const policy_requirements *r = &p->requirements;
        if (rotation_check_sslmode(u, r->min_sslmode, name, &e))
            fprintf(stderr, "credbroker: warning: %s (%s:%d:%d): rotation and MCP queries will refuse this connection\n",
                    e.msg + (strncmp(e.msg, "policy: ", 8) == 0 ? 8 : 0), r->min_sslmode_origin.file ? r->min_sslmode_origin.file : "?",
                    r->min_sslmode_origin.line, r->min_sslmode_origin.column);
        policy_free(p);
        if (e.msg[0]) return;
    }
    const char *m = u->engine && !strcmp(u->engine, "postgres") ? conn_url_param(u, "sslmode") : NULL;
    if (m && (!strcmp(m, "disable") || !strcmp(m, "allow")))
        fprintf(stderr, "credbroker: warning: connection %s has sslmode=%s: its password and data cross the network "
                        "unencrypted (set requirements.min_sslmode in the policy to refuse this)\n", name, m);
}

static int conn_put(cli_ctx *ctx, int argc, char **argv, int update)
{
    const char *engine = cli_take_opt(&argc, argv, "--engine");
    const char *desc = cli_take_opt(&argc, argv, "--description");
    const char *ref = cli_take_opt(&argc, argv, "--from-ref");
    if (cli_no_unknown_opts(argc, argv)) return CB_EUSAGE;
    if (argc != 2) { fprintf(stderr, "credbroker: conn %s takes one NAME (the URL comes from stdin)\n", update ? "update" : "add"); return CB_EUSAGE; }
    const char *name = argv[1];
    if (!cli_valid_name(name)) { fprintf(stderr, "credbroker: invalid name '%s' (letters, digits, _ . -; at most 64)\n", name); return CB_EUSAGE; }
    if (engine && !valid_engine(engine)) { fprintf(stderr, "credbroker: unknown engine '%s' (postgres, sqlserver, mysql, sqlite)\n", engine); return CB_EUSAGE; }
    cb_error e = {0};
    if (ref) {
        secret_ref r;
        if (secret_ref_parse(ref, &r, &e)) return cli_report_error(ctx, &e);
        secret_ref_free(&r);
    }
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    store_conn old = {0};
    if (update) {
        if (store_conn_get(s, name, 0, &old, &e)) {
            store_close(s);
            return cli_report_error(ctx, &e);
        }
        if (!engine) engine = old.engine;
    }
    char *url = NULL, *version = NULL;
    conn_url u = {0};
    rc = read_url(ctx, ref, engine, &url, &u, &version);
    if (rc) {
        json_t *d = json_pack("{s:s}", "error", "invalid connection string");
        audit_append(s, ctx->paths.actor, update ? "conn.update" : "conn.add", name, "error", d, cli_elapsed_ms(), NULL);
        json_decref(d);
        store_conn_free(&old);
        store_close(s);
        return rc;
    }
    char *red = conn_url_redacted(&u);
    rc = store_conn_put(s, name, u.engine, url, red, desc, ref ? ref : (update ? old.source_ref : NULL), update, &e);
    /* the audit log is append-only (never re-encrypted): it names the provider, not the
     * reference, whose path can name hosts and vault paths */
    char provider[32] = "";
    const char *sep = ref ? strstr(ref, "://") : NULL;
    if (sep) snprintf(provider, sizeof provider, "%.*s", (int)(sep - ref < 31 ? sep - ref : 31), ref);
    json_t *d = json_pack("{s:s,s:s?}", "engine", u.engine, "provider", sep ? provider : NULL);
    audit_append(s, ctx->paths.actor, update ? "conn.update" : "conn.add", name, rc ? "error" : "ok", d, cli_elapsed_ms(), NULL);
    json_decref(d);
    /* a --from-ref connection is a cached source: cache list shows it, sync refreshes it */
    if (!rc && ref) source_state_record(s, name, ref, version);
    free(version);
    if (!rc) sslmode_warning(ctx, name, &u);
    if (!rc) {
        if (ctx->json) cli_print_json(json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "name", name, "engine", u.engine, "url", red));
        else cli_say(ctx, "%s connection %s (%s): %s", update ? "updated" : "added", name, u.engine, red);
    }
    free(red);
    conn_url_free(&u);
    cb_free_secret(url);
    store_conn_free(&old);
    store_close(s);
    return rc ? cli_report_error(ctx, &e) : 0;
}

int cmd_conn(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2) return usage(), CB_EUSAGE;
    if (cli_wants_help(argc, argv)) return usage();
    const char *sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "add") == 0) return conn_put(ctx, argc, argv, 0);
    if (strcmp(sub, "update") == 0) return conn_put(ctx, argc, argv, 1);
    if (cli_no_unknown_opts(argc, argv)) return CB_EUSAGE;
    cb_error e = {0};
    cb_store *s;
    int rc;
    if (strcmp(sub, "list") == 0) {
        if (argc != 1) return CB_EUSAGE;
        if ((rc = cli_open_store(ctx, &s))) return rc;
        store_conn *list;
        size_t n;
        if (store_conn_list(s, &list, &n, &e)) {
            store_close(s);
            return cli_report_error(ctx, &e);
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            conn_fill_redacted(s, &list[i]);
            if (ctx->json) json_array_append_new(arr, conn_json(&list[i], NULL));
            else printf("%-20s %-10s %-12s %s\n", list[i].name, list[i].engine, list[i].encrypted ? "encrypted" : "PLAINTEXT",
                        list[i].redacted ? list[i].redacted : "(run key migrate)");
            store_conn_free(&list[i]);
        }
        free(list);
        if (ctx->json) cli_print_json(arr);
        else {
            if (n == 0 && !ctx->quiet) printf("no connections (add one with: credbroker conn add NAME < url)\n");
            json_decref(arr);
        }
        store_close(s);
        return 0;
    }
    if (argc != 2) { fprintf(stderr, "credbroker: conn %s takes one NAME\n", sub); return CB_EUSAGE; }
    const char *name = argv[1];
    int show = strcmp(sub, "show") == 0, url = strcmp(sub, "url") == 0, rm = strcmp(sub, "remove") == 0;
    if (!show && !url && !rm) { fprintf(stderr, "credbroker: unknown conn subcommand '%s'\n", sub); return CB_EUSAGE; }
    if ((rc = cli_open_store(ctx, &s))) return rc;
    if (rm) {
        rc = store_conn_remove(s, name, &e);
        if (!rc) source_state_forget(s, name);
        audit_append(s, ctx->paths.actor, "conn.remove", name, rc ? "error" : "ok", NULL, cli_elapsed_ms(), NULL);
        store_close(s);
        if (rc) return cli_report_error(ctx, &e);
        if (ctx->json) cli_print_json(json_pack("{s:b,s:s}", "ok", 1, "removed", name));
        else cli_say(ctx, "removed connection %s", name);
        return 0;
    }
    store_conn c;
    cb_config *cfg = NULL;
    if ((rc = cli_load_config(ctx, &cfg))) {
        store_close(s);
        return rc;
    }
    int stale = 0;
    /* provider-backed connections are refreshed per their TTL and fail closed past max staleness */
    rc = conn_resolve(s, cfg, name, &c, &stale, &e);
    config_free(cfg);
    cb_error ae = {0};
    int arc = url ? audit_append(s, ctx->paths.actor, "conn.url", name, rc ? "error" : "ok", NULL, cli_elapsed_ms(), &ae) : 0;
    if (rc) {
        store_close(s);
        return cli_report_error(ctx, &e);
    }
    /* no unaudited secret read: the URL is printed only once its audit row is committed */
    if (arc) {
        store_conn_free(&c);
        store_close(s);
        cb_fail(&e, CB_ERR, ae.kind, "the audit row could not be written (%s): the URL is not printed", ae.msg);
        return cli_report_error(ctx, &e);
    }
    if (url) {
        /* the one command that prints a secret, on purpose */
        if (!c.url) rc = cb_fail(&e, CB_ERR, CB_K_NOTFOUND, "connection '%s' has no URL yet (run credbroker sync)", name);
        else if (ctx->json) cli_print_json(json_pack("{s:s,s:s}", "name", name, "url", c.url));
        else printf("%s\n", c.url);
        if (!c.encrypted) LOG_WARN("connection %s is stored unencrypted; run credbroker key migrate", name);
    } else {
        char *red = NULL;
        conn_url u = {0};
        cb_error pe = {0};
        if (c.url && conn_url_parse(c.url, c.engine, &u, &pe) == 0) {
            red = conn_url_redacted(&u);
            conn_url_free(&u);
        }
        if (ctx->json) cli_print_json(conn_json(&c, red));
        else {
            printf("name:        %s\nengine:      %s\nurl:         %s\nencryption:  %s\n", c.name, c.engine,
                   red ? red : (c.redacted ? c.redacted : "(unparseable)"), c.encrypted ? "aes-256-gcm" : "NONE (run credbroker key migrate)");
            if (c.description) printf("description: %s\n", c.description);
            if (c.source_ref) printf("source:      %s\n", c.source_ref);
            char t[32];
            cb_iso8601(c.created_at, t);
            printf("created:     %s\n", t);
            if (c.last_rotated) { cb_iso8601(c.last_rotated, t); printf("rotated:     %s\n", t); }
            if (c.last_used) { cb_iso8601(c.last_used, t); printf("last used:   %s\n", t); }
        }
        free(red);
    }
    store_conn_free(&c);
    store_close(s);
    return rc ? cli_report_error(ctx, &e) : 0;
}
