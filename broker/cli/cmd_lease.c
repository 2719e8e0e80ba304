/* credbroker lease list [--all] | revoke (ID | --client C | --connection N | --all | --orphans)
 * The leased per-client query logins (docs/readme-least-privilege.md). Never prints a
 * password; every revocation is audited by the layer below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd_lease.h"
#include "rotation/lease_reaper.h"
#include "rotation/rotation_env.h"
#include "store/leases.h"

static int usage(void)
{
    printf("usage: credbroker lease list [--all]\n"
           "       credbroker lease revoke (ID | --client C | --connection N | --all | --orphans)\n\n"
           "list    the leased query logins: id, client, connection, login, created, expires, state (never a\n"
           "        password); --all includes revoked ones.\n"
           "revoke  ends the login's sessions and drops it; --orphans drops logins named like the broker's\n"
           "        (cb_..._8hex) that have no live lease, on every admin connection the policy names.\n");
    return 0;
}

static int list(cli_ctx *ctx, int argc, char **argv)
{
    int all = cli_take_flag(&argc, argv, "--all");
    if (cli_no_unknown_opts(argc, argv) || argc != 1) return CB_EUSAGE;
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    store_lease *v;
    size_t n;
    cb_error e = {0};
    rc = lease_list(s, all, &v, &n, &e);
    store_close(s);
    if (rc) return cli_report_error(ctx, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, lease_to_json(&v[i]));
    if (ctx->json) {
        cli_print_json(json_pack("{s:o}", "leases", arr));
    } else {
        printf("%-16s  %-12s  %-12s  %-32s  %-20s  %-20s  %s\n", "ID", "CLIENT", "CONNECTION", "LOGIN", "CREATED", "EXPIRES", "STATE");
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o) {
            printf("%-16s  %-12s  %-12s  %-32s  %-20s  %-20s  %s\n", json_string_value(json_object_get(o, "id")),
                   json_string_value(json_object_get(o, "client")), json_string_value(json_object_get(o, "connection")),
                   json_string_value(json_object_get(o, "login")), json_string_value(json_object_get(o, "created")),
                   json_string_value(json_object_get(o, "expires")), json_string_value(json_object_get(o, "state")));
        }
        json_decref(arr);
    }
    for (size_t i = 0; i < n; i++) store_lease_free(&v[i]);
    free(v);
    return 0;
}

static int lease_revoke_cmd(cli_ctx *ctx, int argc, char **argv)
{
    lease_filter f = {0};
    f.client = cli_take_opt(&argc, argv, "--client");
    f.connection = cli_take_opt(&argc, argv, "--connection");
    f.all = cli_take_flag(&argc, argv, "--all");
    int orphans = cli_take_flag(&argc, argv, "--orphans");
    if (cli_no_unknown_opts(argc, argv) || argc > 2) return CB_EUSAGE;
    if (argc == 2) f.id = argv[1];
    if (!f.id && !f.client && !f.connection && !f.all && !orphans) {
        fprintf(stderr, "credbroker: lease revoke needs ID, --client, --connection, --all or --orphans\n");
        return CB_EUSAGE;
    }
    rotation_env v;
    cb_error e = {0};
    int rc = rotation_env_open(&ctx->paths, &v, &e);
    if (rc) return cli_report_error(ctx, &e);
    json_t *rep = json_array();
    int count = 0, dropped = 0;
    if (f.id) {
        store_lease l;
        if ((rc = lease_get(v.s, f.id, &l, &e)) == 0) {
            if (!strcmp(l.state, "revoked")) rc = cb_fail(&e, CB_EUSAGE, CB_K_CONFLICT, "lease %s is already revoked", f.id);
            store_lease_free(&l);
        }
    }
    if (!rc && (f.id || f.client || f.connection || f.all))
        rc = lease_revoke_where(v.s, v.cfg, &f, ctx->paths.actor, "revoked by operator", rep, &count, &e);
    /* --orphans also finishes what a crash left half done (owner process gone) */
    if (!rc && orphans) rc = lease_reap(v.s, v.p, v.cfg, ctx->paths.actor, LEASE_REAP_GRACE_S, rep, &e);
    if (!rc && orphans) rc = lease_drop_orphans(v.s, v.p, v.cfg, ctx->paths.actor, rep, &dropped, &e);
    rotation_env_close(&v);
    if (ctx->json) cli_print_json(json_pack("{s:b,s:i,s:i,s:o}", "ok", !rc, "revoked", count, "orphans_dropped", dropped, "leases", rep));
    else {
        if (!ctx->quiet) printf("%d lease(s) revoked%s", count, orphans ? "" : "\n");
        if (!ctx->quiet && orphans) printf(", %d orphan login(s) dropped\n", dropped);
        json_decref(rep);
    }
    return rc ? cli_report_error(ctx, &e) : 0;
}

int cmd_lease(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) return argc < 2 ? (usage(), CB_EUSAGE) : usage();
    if (!strcmp(argv[1], "list")) return list(ctx, argc - 1, argv + 1);
    if (!strcmp(argv[1], "revoke")) return lease_revoke_cmd(ctx, argc - 1, argv + 1);
    fprintf(stderr, "credbroker: unknown lease command '%s'\n", argv[1]);
    return CB_EUSAGE;
}
