/* Test driver over the db_target registry. The connection URL comes from env DB_URL or
 * stdin, never argv.
 *   db_tool ENGINE test-login
 *   db_tool ENGINE set-password USER          new password from env NEW_PASSWORD
 *   db_tool ENGINE terminate USER             prints {"terminated":n}
 *   db_tool ENGINE lock NAME [--hold-ms N]    prints {"acquired":bool}, holds N ms, unlocks
 *   db_tool ENGINE query-ro SQL [PARAMS-JSON] [--max-rows N] [--timeout-ms N] [--max-bytes N]
 *   db_tool ENGINE execute SQL [PARAMS-JSON]
 *   db_tool ENGINE query-ro-seq SQL1 SQL2 ...  several read-only calls on ONE connection;
 *                                            prints one JSON line each ({"error":..} on failure)
 *   db_tool ENGINE schema | version
 *   db_tool ENGINE lease-create LOGIN ROLES LIMIT [HOST] [VALID-UNTIL]   ROLES: a,b or -; password from NEW_PASSWORD
 *   db_tool ENGINE lease-renew LOGIN VALID-UNTIL | lease-drop LOGIN [HOST] | lease-list PREFIX
 *   db_tool ENGINE parse | redact | assess    (connstr helpers, no connection)
 * env DB_TOOL_NO_PREFILTER=1 turns off the Postgres read-only allow/deny lists.
 * Exit: 0 ok, else the cb_error code; the (sanitized) error goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "conn/conn_assess.h"
#include "databases/db_target.h"
#include "databases/postgres.h"
#include "databases/mysql_target.h"

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%s\n", s);
    free(s);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: db_tool ENGINE ACTION [ARGS]\n");
        return 2;
    }
    const char *engine = argv[1], *action = argv[2];
    db_limits lim = {.max_rows = 1000, .statement_timeout_ms = 30000};
    long hold_ms = 0;
    char *pos[8] = {0};
    int npos = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--hold-ms") && i + 1 < argc) hold_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--max-rows") && i + 1 < argc) lim.max_rows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) lim.statement_timeout_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-bytes") && i + 1 < argc) lim.max_bytes = (size_t)atol(argv[++i]);
        else if (npos < 8) pos[npos++] = argv[i];
    }
    if (getenv("DB_TOOL_NO_PREFILTER")) pg_readonly_prefilter = mysql_readonly_prefilter = 0;
    cb_error e = {0};
    char *urltext = NULL;
    const char *env = getenv("DB_URL");
    if (env && *env) urltext = cb_strdup(env);
    else if (!(urltext = cb_read_stream_secret(0, 1 << 16, &e))) { fprintf(stderr, "%s\n", e.msg); return e.code; }
    conn_url u;
    int rc = conn_url_parse(urltext, engine, &u, &e);
    cb_free_secret(urltext);
    if (rc) { fprintf(stderr, "%s\n", e.msg); return rc; }

    if (!strcmp(action, "parse") || !strcmp(action, "redact") || !strcmp(action, "assess")) {
        if (!strcmp(action, "redact")) {
            char *r = conn_url_redacted(&u);
            printf("%s\n", r);
            free(r);
        } else if (!strcmp(action, "assess")) {
            json_t *f = json_array();
            conn_assess(&u, f);
            print_json(f);
            json_decref(f);
        } else {
            json_t *o = json_pack("{s:s,s:s?,s:s?,s:i,s:s?,s:b}", "engine", u.engine, "host", u.host, "user", u.user,
                                  "port", u.port, "dbname", u.dbname, "has_password", u.password != NULL);
            print_json(o);
            json_decref(o);
        }
        conn_url_free(&u);
        return 0;
    }

    const db_target *t = db_target_for(u.engine);
    if (!t) { fprintf(stderr, "no db_target for %s\n", u.engine); conn_url_free(&u); return 2; }
    if (!strcmp(action, "test-login")) {
        rc = t->test_login(&u, &e);
        if (!rc) printf("{\"ok\":true}\n");
        goto done;
    }
    db_conn *c = NULL;
    if ((rc = t->connect(&u, &c, &e))) goto done;
    if (!strcmp(action, "set-password") && npos >= 1) {
        const char *pw = getenv("NEW_PASSWORD");
        if (!pw) { rc = cb_fail(&e, 2, CB_K_INVALID, "NEW_PASSWORD not set"); }
        else if (!(rc = t->set_password(c, pos[0], pw, NULL, &e))) printf("{\"ok\":true}\n");
    } else if (!strcmp(action, "terminate") && npos >= 1) {
        int n = 0;
        if (!(rc = t->terminate_sessions(c, pos[0], &n, &e))) printf("{\"terminated\":%d}\n", n);
    } else if (!strcmp(action, "lock") && npos >= 1) {
        int got = 0;
        if (!(rc = t->lock(c, pos[0], &got, &e))) {
            printf("{\"acquired\":%s}\n", got ? "true" : "false");
            fflush(stdout);
            if (got) {
                struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
                rc = t->unlock(c, pos[0], &e);
            }
        }
    } else if ((!strcmp(action, "query-ro") || !strcmp(action, "execute")) && npos >= 1) {
        json_t *params = NULL, *res = NULL;
        if (npos >= 2) {
            json_error_t je;
            params = json_loads(pos[1], JSON_DECODE_ANY, &je);
            if (!params) rc = cb_fail(&e, 2, CB_K_INVALID, "params: invalid JSON");
        }
        if (!rc) {
            rc = !strcmp(action, "query-ro") ? t->query_readonly(c, pos[0], params, &lim, &res, &e)
                                             : t->query_execute(c, pos[0], params, &lim, &res, &e);
            if (!rc) print_json(res);
        }
        json_decref(res);
        json_decref(params);
    } else if (!strcmp(action, "query-ro-seq")) {
        for (int i = 0; i < npos; i++) {
            json_t *res = NULL;
            cb_error qe = {0};
            if (t->query_readonly(c, pos[i], NULL, &lim, &res, &qe) == 0) print_json(res);
            else printf("{\"error\":\"%s\"}\n", "failed");
            fflush(stdout);
            json_decref(res);
        }
    } else if (!strcmp(action, "lease-create") && npos >= 3) {
        const char *pw = getenv("NEW_PASSWORD");
        const char *roles[16] = {0};
        char *rl = cb_strdup(pos[1]), *save = NULL;
        int nr = 0;
        for (char *tok = strtok_r(rl, ",", &save); tok && nr < 15; tok = strtok_r(NULL, ",", &save))
            if (strcmp(tok, "-")) roles[nr++] = tok;
        db_lease_spec sp = {.login = pos[0], .member_of = roles, .connection_limit = atoi(pos[2]),
                            .host = npos >= 4 ? pos[3] : NULL, .valid_until = npos >= 5 ? atoll(pos[4]) : 0};
        if (!t->lease_create) rc = cb_fail(&e, 2, CB_K_INVALID, "engine has no leases");
        else if (!pw) rc = cb_fail(&e, 2, CB_K_INVALID, "NEW_PASSWORD not set");
        else if (!(rc = t->lease_create(c, &sp, pw, &e))) printf("{\"ok\":true}\n");
        free(rl);
    } else if (!strcmp(action, "lease-renew") && npos >= 2 && t->lease_renew) {
        if (!(rc = t->lease_renew(c, pos[0], atoll(pos[1]), &e))) printf("{\"ok\":true}\n");
    } else if (!strcmp(action, "lease-drop") && npos >= 1 && t->lease_drop) {
        if (!(rc = t->lease_drop(c, pos[0], npos >= 2 ? pos[1] : NULL, &e))) printf("{\"ok\":true}\n");
    } else if (!strcmp(action, "lease-list") && npos >= 1 && t->lease_list) {
        json_t *o = NULL;
        if (!(rc = t->lease_list(c, pos[0], &o, &e))) print_json(o);
        json_decref(o);
    } else if (!strcmp(action, "schema")) {
        json_t *o = NULL;
        if (!(rc = t->describe_schema(c, &o, &e))) print_json(o);
        json_decref(o);
    } else if (!strcmp(action, "version")) {
        char *v = NULL;
        if (!(rc = t->server_version(c, &v, &e))) printf("%s\n", v);
        free(v);
    } else {
        rc = cb_fail(&e, 2, CB_K_INVALID, "unknown action or missing argument");
    }
    t->close(c);
done:
    if (rc) fprintf(stderr, "%s\n", e.msg);
    conn_url_free(&u);
    return rc;
}
