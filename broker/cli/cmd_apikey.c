/* credbroker apikey create NAME --policy CLIENT | list | revoke NAME. The token is printed
 * once by create; only its keyed hash is stored. Every change is audited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/apikeys.h"
#include "store/apikey_attrs.h"
#include "store/audit.h"
#include "cmd_mcp.h"
#include "policy/policy.h"

static int usage(void)
{
    printf("usage: credbroker apikey create NAME --policy CLIENT [--attr NAME=VALUE]...\n"
           "       credbroker apikey list\n"
           "       credbroker apikey revoke NAME\n\n"
           "create  makes a random API key for the MCP HTTP server, bound to the policy client CLIENT\n"
           "        (clients in the policy files). The key is printed ONCE; only a keyed hash is stored.\n"
           "        --attr stores attributes with the key for the client's session_settings\n"
           "        (${apikey.attr.NAME}, e.g. --attr user_id=42 for row-level security).\n"
           "list    names, policies, prefixes and dates (never a key).\n"
           "revoke  the key stops working at once.\n");
    return 0;
}

static int create(cli_ctx *ctx, int argc, char **argv)
{
    const char *pol = cli_take_opt(&argc, argv, "--policy");
    json_t *attrs = json_object(); /* --attr NAME=VALUE, repeatable (session_settings) */
    cb_error ae = {0};
    for (const char *at; (at = cli_take_opt(&argc, argv, "--attr"));)
        if (apikey_attr_parse(at, attrs, &ae)) {
            json_decref(attrs);
            return cli_report_error(ctx, &ae);
        }
    if (cli_no_unknown_opts(argc, argv)) { json_decref(attrs); return CB_EUSAGE; }
    if (argc != 2 || !pol) {
        json_decref(attrs);
        fprintf(stderr, "credbroker: apikey create NAME --policy CLIENT [--attr NAME=VALUE]...\n");
        return CB_EUSAGE;
    }
    const char *name = argv[1];
    cb_error e = {0};
    if (!cli_valid_name(name) || !policy_valid_name(pol)) {
        json_decref(attrs);
        cb_fail(&e, CB_EUSAGE, CB_K_INVALID, "invalid name (letters, digits, _ . -; at most 64)");
        return cli_report_error(ctx, &e);
    }
    /* fail closed: a key for a client the policy does not define would be useless, and a
     * typo here must not go unnoticed */
    cb_policy *p = NULL;
    if (policy_load(ctx->paths.policies_dir, &p, NULL, &e)) { json_decref(attrs); return cli_report_error(ctx, &e); }
    int known = policy_client(p, pol) != NULL;
    policy_free(p);
    if (!known) {
        json_decref(attrs);
        cb_fail(&e, CB_EUSAGE, CB_K_NOTFOUND, "no client '%s' in the policy files (%s)", pol, ctx->paths.policies_dir);
        return cli_report_error(ctx, &e);
    }
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) { json_decref(attrs); return rc; }
    char *tok = NULL;
    rc = apikey_create(s, name, pol, &tok, &e);
    if (!rc && json_object_size(attrs) && (rc = apikey_set_attrs(s, name, attrs, &e))) {
        cb_error ig = {0};
        apikey_revoke(s, name, &ig); /* a key without its attributes must not work */
        cb_free_secret(tok);
        tok = NULL;
    }
    char pre[9] = "";
    if (tok) apikey_token_prefix(tok, pre);
    json_t *d = json_pack("{s:s,s:s?,s:o}", "policy", pol, "prefix", pre[0] ? pre : NULL, "attrs", attrs);
    audit_append(s, ctx->paths.actor, "apikey.create", name, rc ? "error" : "ok", d, cli_elapsed_ms(), NULL);
    json_decref(d);
    store_close(s);
    if (rc) return cli_report_error(ctx, &e);
    if (ctx->json) {
        cli_print_json(json_pack("{s:b,s:s,s:s,s:s,s:s}", "ok", 1, "name", name, "policy", pol, "prefix", pre, "key", tok));
    } else {
        printf("%s\n", tok);
        if (!ctx->quiet)
            fprintf(stderr, "API key '%s' for client '%s' created. It is shown only now: store it safely\n"
                            "(clients send it as 'Authorization: Bearer <key>').\n", name, pol);
    }
    cb_free_secret(tok);
    return 0;
}

static int list(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_no_unknown_opts(argc, argv) || argc != 1) return CB_EUSAGE;
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    cb_error e = {0};
    json_t *a = NULL;
    rc = apikey_list(s, &a, &e);
    store_close(s);
    if (rc) return cli_report_error(ctx, &e);
    if (ctx->json) {
        cli_print_json(a);
        return 0;
    }
    printf("%-20s %-16s %-8s %-20s %-20s %s\n", "NAME", "POLICY", "PREFIX", "CREATED", "LAST USED", "REVOKED");
    size_t i;
    json_t *k;
    json_array_foreach(a, i, k) {
        const char *lu = json_string_value(json_object_get(k, "last_used")), *rv = json_string_value(json_object_get(k, "revoked_at"));
        printf("%-20s %-16s %-8s %-20s %-20s %s\n", json_string_value(json_object_get(k, "name")),
               json_string_value(json_object_get(k, "policy")), json_string_value(json_object_get(k, "prefix")) ?: "",
               json_string_value(json_object_get(k, "created_at")), lu ? lu : "-", rv ? rv : "-");
    }
    json_decref(a);
    return 0;
}

/* not "revoke": BSD and macOS libcs declare revoke(2) in <unistd.h> */
static int cmd_revoke(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_no_unknown_opts(argc, argv) || argc != 2) {
        fprintf(stderr, "credbroker: apikey revoke NAME\n");
        return CB_EUSAGE;
    }
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    cb_error e = {0};
    rc = apikey_revoke(s, argv[1], &e);
    audit_append(s, ctx->paths.actor, "apikey.revoke", argv[1], rc ? "error" : "ok", NULL, cli_elapsed_ms(), NULL);
    store_close(s);
    if (rc) return cli_report_error(ctx, &e);
    if (ctx->json) cli_print_json(json_pack("{s:b,s:s}", "ok", 1, "revoked", argv[1]));
    else cli_say(ctx, "API key '%s' revoked", argv[1]);
    return 0;
}

int cmd_apikey(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2) return usage(), CB_EUSAGE;
    if (cli_wants_help(argc, argv)) return usage();
    const char *sub = argv[1];
    if (!strcmp(sub, "create")) return create(ctx, argc - 1, argv + 1);
    if (!strcmp(sub, "list")) return list(ctx, argc - 1, argv + 1);
    if (!strcmp(sub, "revoke")) return cmd_revoke(ctx, argc - 1, argv + 1);
    fprintf(stderr, "credbroker: unknown apikey subcommand '%s'\n", sub);
    return CB_EUSAGE;
}
