/* What a query connection's own login may do beyond reading (assess, security_assess,
 * requirements.mcp_least_privilege). Asked of the database as that login: attributes,
 * the dangerous predefined roles, write grants on any table, and whether the login is
 * the one a rotated credential uses (its sessions could then be signalled by the model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mcp_leases.h"
#include "conn/assess.h"

static const char LP_SQL[] =
    "SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,"
    " pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'),"
    " pg_catalog.pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'),"
    " pg_catalog.pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'),"
    " pg_catalog.pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),"
    " (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT IN ('pg_catalog','information_schema')"
    "  AND n.nspname NOT LIKE 'pg\\_%' AND (pg_catalog.has_table_privilege(c.oid, 'INSERT')"
    "  OR pg_catalog.has_table_privilege(c.oid, 'UPDATE') OR pg_catalog.has_table_privilege(c.oid, 'DELETE')"
    "  OR pg_catalog.has_table_privilege(c.oid, 'TRUNCATE')))"
    " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

static const char *const LP_WHAT[] = {"is a superuser", "has CREATEROLE", "has CREATEDB", "has BYPASSRLS",
                                      "is a member of pg_signal_backend", "is a member of pg_write_server_files",
                                      "is a member of pg_execute_server_program", "is a member of pg_read_server_files"};

static int same_login(const conn_url *x, const conn_url *y)
{
    return x->user && y->user && !strcmp(x->user, y->user) && !strcmp(x->host ? x->host : "", y->host ? y->host : "") &&
           (x->port ? x->port : 5432) == (y->port ? y->port : 5432);
}

int mcp_lp_findings(mcp_app *a, const char *client, const char *connection, json_t **findings, cb_error *e)
{
    *findings = json_array();
    conn_url u;
    if (mcp_conn_url(a, connection, &u, e)) return e->code ? e->code : CB_ERR;
    int rc = 0;
    if (strcmp(u.engine, "postgres")) goto out;
    /* the rotated credentials' logins */
    for (size_t i = 0; a->pol && i < a->pol->ncredentials; i++) {
        const policy_credential *pc = &a->pol->credentials[i];
        conn_url cu;
        cb_error ig = {0};
        if (mcp_conn_url(a, pc->connection, &cu, &ig)) continue;
        if (same_login(&u, &cu))
            json_array_append_new(*findings, json_sprintf("login %s is the login of rotated credential %s: the model "
                                                          "can signal the application's sessions (pg_terminate_backend)",
                                                          u.user, pc->name));
        conn_url_free(&cu);
    }
    mcp_db db;
    if ((rc = mcp_db_acquire(a, client, connection, &db, e))) goto out;
    db_limits lim = {.max_rows = 1, .statement_timeout_ms = 5000, .max_bytes = 65536};
    json_t *res = NULL;
    rc = db.t->query_readonly(db.conn, LP_SQL, NULL, &lim, &res, e);
    if (rc) {
        db.broken = e->kind == CB_K_UNAVAILABLE;
        mcp_sanitize_error(e, db.password);
    }
    mcp_db_release(a, &db);
    if (rc) goto out;
    json_t *row = json_array_get(json_object_get(res, "rows"), 0);
    for (size_t i = 0; i < 8; i++)
        if (json_is_true(json_array_get(row, i)))
            json_array_append_new(*findings, json_sprintf("login %s %s", u.user ? u.user : "?", LP_WHAT[i]));
    json_int_t w = json_integer_value(json_array_get(row, 8));
    if (w > 0)
        json_array_append_new(*findings, json_sprintf("login %s may INSERT, UPDATE, DELETE or TRUNCATE %lld table(s)",
                                                      u.user ? u.user : "?", (long long)w));
    json_decref(res);
out:
    conn_url_free(&u);
    return rc;
}

/* A verdict is reused for LP_CACHE_MS (grants change rarely; one round trip per call
 * otherwise). Only verdicts that were checked are cached, never an error. */
#define LP_CACHE_MS 30000
#define LP_CACHE_N 64
static struct { const mcp_app *app; char name[65]; int64_t at_ms; char reason[sizeof ((cb_error *)0)->msg]; } lp_cache[LP_CACHE_N];
static pthread_mutex_t lp_mu = PTHREAD_MUTEX_INITIALIZER;

int mcp_least_privilege_check(mcp_app *a, const policy_client *c, const char *connection, int write, cb_error *e)
{
    if (write || !a->pol || a->pol->requirements.mcp_least_privilege != 1) return 0;
    if (policy_query_identity_get(a->pol, connection)) return 0; /* leased: least privilege by construction */
    int64_t now = cb_now_ms();
    pthread_mutex_lock(&lp_mu);
    for (int i = 0; i < LP_CACHE_N; i++)
        if (lp_cache[i].app == a && !strcmp(lp_cache[i].name, connection) && now - lp_cache[i].at_ms < LP_CACHE_MS) {
            int refused = lp_cache[i].reason[0] != 0;
            if (refused) cb_fail(e, CB_ERR, CB_K_DENIED, "%s", lp_cache[i].reason);
            pthread_mutex_unlock(&lp_mu);
            return refused ? CB_ERR : 0;
        }
    pthread_mutex_unlock(&lp_mu);
    json_t *f = NULL;
    int rc = mcp_lp_findings(a, c ? c->name : NULL, connection, &f, e);
    if (json_array_size(f)) /* a finding refuses even when the rest could not be checked */
        rc = cb_fail(e, CB_ERR, CB_K_DENIED, "requirements.mcp_least_privilege: connection '%s' refused: %s%s", connection,
                     json_string_value(json_array_get(f, 0)),
                     json_array_size(f) > 1 ? " (and more: see security_assess)" : "");
    int checked = json_array_size(f) || !rc;
    json_decref(f);
    if (checked && strlen(connection) < 65) {
        pthread_mutex_lock(&lp_mu);
        int slot = 0;
        for (int i = 0; i < LP_CACHE_N; i++) {
            if (lp_cache[i].app == a && !strcmp(lp_cache[i].name, connection)) { slot = i; break; }
            if (lp_cache[i].at_ms < lp_cache[slot].at_ms) slot = i;
        }
        lp_cache[slot].app = a;
        snprintf(lp_cache[slot].name, sizeof lp_cache[slot].name, "%s", connection);
        lp_cache[slot].at_ms = now;
        snprintf(lp_cache[slot].reason, sizeof lp_cache[slot].reason, "%s", rc ? e->msg : "");
        pthread_mutex_unlock(&lp_mu);
    }
    return rc;
}

void mcp_lp_assess(mcp_app *a, const policy_client *viewer, const char *only, json_t *out)
{
    store_conn *list = NULL;
    size_t n = 0;
    cb_error e = {0};
    pthread_mutex_lock(&a->store_mu);
    int rc = store_conn_list(a->store, &list, &n, &e);
    pthread_mutex_unlock(&a->store_mu);
    if (rc) return;
    for (size_t i = 0; i < n; i++) {
        const char *name = list[i].name;
        if ((only && strcmp(only, name)) || (viewer && !policy_client_may_use(viewer, name))) continue;
        /* the first client that may query it read-only */
        const policy_client *q = NULL;
        for (size_t k = 0; a->pol && k < a->pol->nclients && !q; k++)
            if (policy_client_may_call(&a->pol->clients[k], "query_readonly") && policy_client_may_use(&a->pol->clients[k], name))
                q = &a->pol->clients[k];
        if (!q) continue;
        if (policy_query_identity_get(a->pol, name)) {
            assess_add(out, name, "query_identity", "info", "MCP clients query it as leased per-client logins", "none needed");
            continue;
        }
        json_t *f = NULL;
        cb_error le = {0};
        if (mcp_lp_findings(a, q->name, name, &f, &le)) {
            char msg[600];
            snprintf(msg, sizeof msg, "could not check what its login can do: %s", le.msg);
            /* a finding that blocks nothing stays informational unless the policy requires the check */
            assess_add(out, name, "mcp_least_privilege", a->pol->requirements.mcp_least_privilege == 1 ? "low" : "info", msg,
                       "make the connection reachable, then assess again");
        } else if (!json_array_size(f)) {
            assess_add(out, name, "mcp_least_privilege", "info", "MCP clients query it read-only; its login has no write "
                       "grant, dangerous attribute or predefined role", "a query_identity still separates the clients");
        } else {
            size_t k;
            json_t *m;
            json_array_foreach(f, k, m) {
                assess_add(out, name, "mcp_least_privilege", "high", json_string_value(m),
                           "give the connection a query_identity (docs/readme-least-privilege.md), or query it through a "
                           "login that can only read");
            }
        }
        json_decref(f);
    }
    for (size_t i = 0; i < n; i++) store_conn_free(&list[i]);
    free(list);
}
