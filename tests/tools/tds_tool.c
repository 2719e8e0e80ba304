/* Test driver for the SQL Server db_target (integration tests):
 *   tds_tool --host H --port P --user U [--db D] [--param K=V]... COMMAND [ARGS]
 * Password from env MSSQL_PASSWORD (never argv); a new password from env NEW_PASSWORD.
 * Commands:
 *   test-login
 *   set-password USER [--self]       --self: USER rotates itself, OLD_PASSWORD = env
 *                                    OLD_PASSWORD if set (to test a wrong one), else MSSQL_PASSWORD
 *   terminate USER                   prints the number of sessions ended
 *   lock NAME [--hold-ms N] [--unlock]  prints "acquired" or "busy"; holds the session N ms
 *   unlock NAME
 *   version | describe
 *   query-ro SQL [--max-rows N]      prints the result JSON
 *   query-exec SQL                   prints the result JSON
 *   lease-create LOGIN [ROLE]...     password from env NEW_PASSWORD; lease-drop LOGIN; lease-list PREFIX
 * Exit status: 0 ok, else the cb_error code; the error message goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "databases/sqlserver.h"

static void usage(void)
{
    fprintf(stderr, "usage: tds_tool --host H --port P --user U [--db D] [--param K=V] COMMAND [ARGS]\n");
    exit(2);
}

static void free_url(conn_url *u)
{
    free(u->engine); free(u->host); free(u->user); free(u->dbname);
    cb_free_secret(u->password);
    for (size_t i = 0; i < u->nparams; i++) { free(u->params[i].key); free(u->params[i].value); }
    free(u->params);
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s ? s : "null");
    free(s);
}

int main(int argc, char **argv)
{
    conn_url u = {0};
    u.engine = cb_strdup("sqlserver");
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--host")) { free(u.host); u.host = cb_strdup(v); }
        else if (!strcmp(a, "--port")) u.port = atoi(v);
        else if (!strcmp(a, "--user")) { free(u.user); u.user = cb_strdup(v); }
        else if (!strcmp(a, "--db")) { free(u.dbname); u.dbname = cb_strdup(v); }
        else if (!strcmp(a, "--param")) {
            const char *eq = strchr(v, '=');
            if (!eq) usage();
            u.params = cb_realloc(u.params, (u.nparams + 1) * sizeof *u.params);
            u.params[u.nparams].key = cb_strndup(v, (size_t)(eq - v));
            u.params[u.nparams].value = cb_strdup(eq + 1);
            u.nparams++;
        } else usage();
    }
    if (i >= argc) usage();
    const char *cmd = argv[i++];
    const char *pw = getenv("MSSQL_PASSWORD");
    if (!pw) { fprintf(stderr, "MSSQL_PASSWORD is not set\n"); return 2; }
    u.password = cb_strdup(pw);
    const db_target *t = db_target_for("sqlserver");
    if (!t) { fprintf(stderr, "sqlserver target not registered\n"); return 1; }
    cb_error e = {0};
    int rc = 0;
    db_conn *c = NULL;
    if (!strcmp(cmd, "test-login")) {
        rc = t->test_login(&u, &e);
        if (!rc) printf("ok\n");
        goto out;
    }
    rc = t->connect(&u, &c, &e);
    if (rc) goto out;
    if (!strcmp(cmd, "set-password") && i < argc) {
        const char *user = argv[i++];
        int self = i < argc && !strcmp(argv[i], "--self");
        const char *np = getenv("NEW_PASSWORD");
        if (!np) { fprintf(stderr, "NEW_PASSWORD is not set\n"); rc = 2; goto out; }
        const char *old = getenv("OLD_PASSWORD");
        rc = t->set_password(c, user, np, self ? (old ? old : u.password) : NULL, &e);
        if (!rc) printf("ok\n");
    } else if (!strcmp(cmd, "terminate") && i < argc) {
        int n = 0;
        rc = t->terminate_sessions(c, argv[i], &n, &e);
        if (!rc) printf("%d\n", n);
    } else if (!strcmp(cmd, "lock") && i < argc) {
        const char *name = argv[i++];
        long hold = 0;
        int unlock = 0;
        for (; i < argc; i++) {
            if (!strcmp(argv[i], "--hold-ms") && i + 1 < argc) hold = atol(argv[++i]);
            else if (!strcmp(argv[i], "--unlock")) unlock = 1;
            else usage();
        }
        int acquired = 0;
        rc = t->lock(c, name, &acquired, &e);
        if (!rc) {
            printf("%s\n", acquired ? "acquired" : "busy");
            fflush(stdout);
            if (acquired && hold > 0) {
                struct timespec ts = {hold / 1000, (hold % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
            if (acquired && unlock) rc = t->unlock(c, name, &e);
        }
    } else if (!strcmp(cmd, "unlock") && i < argc) {
        rc = t->unlock(c, argv[i], &e);
        if (!rc) printf("ok\n");
    } else if (!strcmp(cmd, "version")) {
        char *v = NULL;
        rc = t->server_version(c, &v, &e);
        if (!rc) printf("%s\n", v);
        free(v);
    } else if (!strcmp(cmd, "describe")) {
        json_t *o = NULL;
        rc = t->describe_schema(c, &o, &e);
        if (!rc) print_json(o);
        json_decref(o);
    } else if ((!strcmp(cmd, "query-ro") || !strcmp(cmd, "query-exec")) && i < argc) {
        const char *sql = argv[i++];
        db_limits lim = {.max_rows = 100, .statement_timeout_ms = 5000};
        if (i + 1 < argc && !strcmp(argv[i], "--max-rows")) lim.max_rows = atoi(argv[i + 1]);
        json_t *res = NULL;
        rc = !strcmp(cmd, "query-ro") ? t->query_readonly(c, sql, NULL, &lim, &res, &e)
                                      : t->query_execute(c, sql, NULL, &lim, &res, &e);
        if (!rc) print_json(res);
        json_decref(res);
    } else if (!strcmp(cmd, "lease-create") && i < argc) {
        /* lease-create LOGIN [ROLE]...: password from env NEW_PASSWORD */
        const char *np = getenv("NEW_PASSWORD");
        if (!np) { fprintf(stderr, "NEW_PASSWORD is not set\n"); rc = 2; goto out; }
        const char *login = argv[i++];
        const char *roles[9] = {0};
        for (int k = 0; i < argc && k < 8; k++) roles[k] = argv[i++];
        db_lease_spec spec = {.login = login, .member_of = roles, .valid_until = 0, .connection_limit = 2};
        rc = t->lease_create(c, &spec, np, &e);
        if (!rc) printf("ok\n");
    } else if (!strcmp(cmd, "lease-drop") && i < argc) {
        rc = t->lease_drop(c, argv[i], NULL, &e);
        if (!rc) printf("ok\n");
    } else if (!strcmp(cmd, "lease-list") && i < argc) {
        json_t *a = NULL;
        rc = t->lease_list(c, argv[i], &a, &e);
        if (!rc) print_json(a);
        json_decref(a);
    } else {
        usage();
    }
out:
    if (c) t->close(c);
    free_url(&u);
    if (rc) fprintf(stderr, "%s\n", e.msg[0] ? e.msg : "failed");
    return rc;
}
