/* MCP application: policy enforcement (authorize, tools/list filtering, 403 on HTTP),
 * limits, sanitization of driver messages, and API keys on a real store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/apikeys.h"
#include "tools/mcp_app.h"

static const char POLICY[] =
    "{\"credentials\":{\"c1\":{\"connection\":\"shop\"},\"c2\":{\"connection\":\"secret_db\"}},"
    "\"clients\":{"
    "\"local\":{\"tools\":[\"*\"],\"connections\":[\"*\"]},"
    "\"analyst\":{\"tools\":[\"connections_list\",\"query_readonly\",\"query_execute\",\"credentials_rotate\"],"
    "\"connections\":[\"shop\"],\"max_rows\":7,\"statement_timeout_ms\":1500,\"max_bytes\":4096},"
    "\"writer\":{\"tools\":[\"query_execute\"],\"connections\":[\"shop\"],\"mode\":\"read-write\"},"
    "\"limited\":{\"tools\":[\"connections_list\"],\"connections\":[],\"rate_limit_per_min\":2}}}";

static cb_policy *load(void)
{
    cb_policy *p = NULL;
    cb_error e = {0};
    assert_int_equal(policy_load_buffer("t.json", POLICY, strlen(POLICY), &p, NULL, &e), 0);
    return p;
}

static int allow(cb_policy *p, const char *who, const char *tool, const char *args_json, cb_error *e)
{
    json_t *a = args_json ? json_loads(args_json, 0, NULL) : NULL;
    cb_error_clear(e);
    int rc = mcp_policy_authorize(p, who, tool, a, e);
    json_decref(a);
    return rc;
}

static void test_authorize(void **st)
{
    (void)st;
    cb_policy *p = load();
    cb_error e;
    /* unknown client: deny (fail closed) */
    assert_int_not_equal(allow(p, "stranger", "connections_list", NULL, &e), 0);
    assert_int_equal(e.kind, CB_K_DENIED);
    assert_non_null(strstr(e.msg, "no policy"));
    assert_int_not_equal(allow(p, NULL, "connections_list", NULL, &e), 0);
    /* listed tools only */
    assert_int_equal(allow(p, "analyst", "connections_list", NULL, &e), 0);
    assert_int_not_equal(allow(p, "analyst", "schema_describe", NULL, &e), 0);
    assert_non_null(strstr(e.msg, "may not call schema_describe"));
    /* query_execute needs read-write even when listed */
    assert_int_not_equal(allow(p, "analyst", "query_execute", NULL, &e), 0);
    assert_non_null(strstr(e.msg, "read-only"));
    assert_int_equal(allow(p, "writer", "query_execute", NULL, &e), 0);
    assert_int_equal(allow(p, "writer", "query_execute", "{\"connection\":\"shop\",\"sql\":\"x\"}", &e), 0);
    assert_int_not_equal(allow(p, "writer", "query_execute", "{\"connection\":\"other\",\"sql\":\"x\"}", &e), 0);
    /* connections */
    assert_int_equal(allow(p, "analyst", "query_readonly", "{\"connection\":\"shop\",\"sql\":\"x\"}", &e), 0);
    assert_int_not_equal(allow(p, "analyst", "query_readonly", "{\"connection\":\"secret_db\",\"sql\":\"x\"}", &e), 0);
    assert_non_null(strstr(e.msg, "may not use connection 'secret_db'"));
    assert_int_not_equal(allow(p, "analyst", "query_readonly", "{\"connection\":5}", &e), 0);
    /* credentials map to their connection */
    assert_int_equal(allow(p, "analyst", "credentials_rotate", "{\"credential\":\"c1\"}", &e), 0);
    assert_int_not_equal(allow(p, "analyst", "credentials_rotate", "{\"credential\":\"c2\"}", &e), 0);
    assert_int_not_equal(allow(p, "analyst", "credentials_rotate", "{\"credential\":\"nope\"}", &e), 0);
    assert_non_null(strstr(e.msg, "unknown credential"));
    /* wildcard client */
    assert_int_equal(allow(p, "local", "audit_recent", "{}", &e), 0);
    assert_int_not_equal(allow(p, "local", "query_execute", NULL, &e), 0); /* default mode read-only */
    /* an empty policy grants nothing */
    cb_policy *empty = policy_new();
    assert_int_not_equal(allow(empty, "local", "connections_list", NULL, &e), 0);
    policy_free(empty);
    policy_free(p);
}

static void test_limits(void **st)
{
    (void)st;
    cb_policy *p = load();
    db_limits l;
    mcp_client_limits(policy_client(p, "analyst"), &l);
    assert_int_equal(l.max_rows, 7);
    assert_int_equal(l.statement_timeout_ms, 1500);
    assert_int_equal(l.max_bytes, 4096);
    mcp_client_limits(policy_client(p, "local"), &l);
    assert_int_equal(l.max_rows, 1000);
    assert_int_equal(l.statement_timeout_ms, 5000);
    assert_int_equal(l.max_bytes, 1u << 20);
    mcp_client_limits(NULL, &l);
    assert_int_equal(l.max_rows, 1000);
    policy_free(p);
}

static void test_sanitize(void **st)
{
    (void)st;
    char *s = mcp_sanitize("connection failed: password authentication failed for user \"app\" (pw S3cr3t-Pw!)\nline2", "S3cr3t-Pw!");
    assert_null(strstr(s, "S3cr3t-Pw!"));
    assert_null(strchr(s, '\n'));
    assert_non_null(strstr(s, "authentication failed"));
    free(s);
    s = mcp_sanitize("could not connect to postgresql://app:hunter2@db.example:5432/x", NULL);
    assert_null(strstr(s, "hunter2"));
    assert_non_null(strstr(s, "db.example"));
    free(s);
    s = mcp_sanitize("bad conninfo host=db user=app password=hunter3 dbname=x", NULL);
    assert_null(strstr(s, "hunter3"));
    free(s);
    s = mcp_sanitize("url-encoded p%40ss and raw p@ss", "p@ss");
    assert_null(strstr(s, "p@ss"));
    assert_null(strstr(s, "p%40ss"));
    free(s);
    s = mcp_sanitize(NULL, NULL);
    assert_string_equal(s, "");
    free(s);
}

/* ---- API keys on a real store ---- */

static char dir[64];

static cb_store *open_store(void)
{
    snprintf(dir, sizeof dir, "/tmp/cbmcpapp.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char *path = cb_sprintf("%s/s.db", dir);
    cb_error e = {0};
    const char *key = "0000000000000000000000000000000000000000000000000000000000000001";
    assert_int_equal(store_create(path, key, &e), 0);
    cb_store *s = NULL;
    assert_int_equal(store_open(path, &s, &e), 0);
    assert_int_equal(store_unlock(s, key, &e), 0);
    free(path);
    return s;
}

static void close_store(cb_store *s)
{
    store_close(s);
    char *cmd = cb_sprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void test_apikeys(void **st)
{
    (void)st;
    cb_store *s = open_store();
    cb_error e = {0};
    char *name = NULL, *pol = NULL;
    /* no key yet: nothing verifies (and no hashing key is created by a check) */
    assert_int_not_equal(apikey_verify(s, "cbk_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &name, &pol, &e), 0);
    char *tok = NULL;
    assert_int_equal(apikey_create(s, "k1", "analyst", &tok, &e), 0);
    char pre[9];
    assert_int_equal(apikey_token_prefix(tok, pre), 0);
    assert_int_equal(strlen(tok), 4 + 8 + 1 + 43);
    assert_int_equal(apikey_verify(s, tok, &name, &pol, &e), 0);
    assert_string_equal(name, "k1");
    assert_string_equal(pol, "analyst");
    free(name);
    free(pol);
    /* a second key with the same name is refused */
    char *tok2 = NULL;
    assert_int_not_equal(apikey_create(s, "k1", "x", &tok2, &e), 0);
    assert_int_equal(e.kind, CB_K_CONFLICT);
    /* altered token, truncated token, stored hash: refused */
    char *bad = cb_strdup(tok);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    assert_int_not_equal(apikey_verify(s, bad, &name, &pol, &e), 0);
    assert_int_equal(e.kind, CB_K_DENIED);
    bad[20] = 0;
    assert_int_not_equal(apikey_verify(s, bad, &name, &pol, &e), 0);
    free(bad);
    sdb_stmt *q;
    assert_int_equal(sdb_prepare(store_db(s), "SELECT lower(hex(hash)) FROM api_keys WHERE name = 'k1'", &q), SDB_OK);
    assert_int_equal(sdb_step(q), SDB_ROW);
    char *hash = cb_strdup((const char *)sdb_column_text(q, 0));
    sdb_finalize(q);
    assert_int_equal(strlen(hash), 64);
    assert_int_not_equal(apikey_verify(s, hash, &name, &pol, &e), 0);
    char *hashtok = cb_sprintf("cbk_%s_%s", pre, hash);
    assert_int_not_equal(apikey_verify(s, hashtok, &name, &pol, &e), 0);
    free(hashtok);
    free(hash);
    /* list never holds a hash or the token */
    json_t *l = NULL;
    assert_int_equal(apikey_list(s, &l, &e), 0);
    char *dump = json_dumps(l, 0);
    assert_null(strstr(dump, tok + 13));
    assert_null(strstr(dump, "hash"));
    assert_non_null(strstr(dump, pre));
    free(dump);
    json_decref(l);
    /* revoke */
    assert_int_equal(apikey_revoke(s, "k1", &e), 0);
    assert_int_not_equal(apikey_verify(s, tok, &name, &pol, &e), 0);
    assert_int_not_equal(apikey_revoke(s, "k1", &e), 0);
    assert_int_not_equal(apikey_revoke(s, "nope", &e), 0);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    /* revoke all */
    char *t3 = NULL, *t4 = NULL;
    assert_int_equal(apikey_create(s, "k3", "a", &t3, &e), 0);
    assert_int_equal(apikey_create(s, "k4", "a", &t4, &e), 0);
    int n = 0;
    assert_int_equal(apikey_revoke_all(s, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_not_equal(apikey_verify(s, t3, &name, &pol, &e), 0);
    cb_free_secret(t3);
    cb_free_secret(t4);
    cb_free_secret(tok);
    close_store(s);
}

static void test_token_prefix(void **st)
{
    (void)st;
    char pre[9];
    assert_int_equal(apikey_token_prefix("cbk_0123abcd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pre), 0);
    assert_string_equal(pre, "0123abcd");
    assert_int_not_equal(apikey_token_prefix("cbk_0123ABCD_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pre), 0);
    assert_int_not_equal(apikey_token_prefix("cbk_0123abcd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pre), 0);
    assert_int_not_equal(apikey_token_prefix("cbk_0123abcd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", pre), 0);
    assert_int_not_equal(apikey_token_prefix("xyz_0123abcd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pre), 0);
    assert_int_not_equal(apikey_token_prefix("", pre), 0);
    assert_int_not_equal(apikey_token_prefix(NULL, pre), 0);
    assert_int_not_equal(apikey_token_prefix("cbk_0123", pre), 0);
}

/* The whole app on a store and a policy dir: tools/list filtered per client, denial as
 * isError on stdio and as HTTP 403 with a JSON-RPC error on HTTP. */
static void test_app_dispatch(void **st)
{
    (void)st;
    cb_store *s = open_store();
    store_close(s);
    char *db = cb_sprintf("%s/s.db", dir), *pd = cb_sprintf("%s/policies", dir), *pf = cb_sprintf("%s/policies/p.json", dir);
    assert_int_equal(mkdir(pd, 0700), 0);
    FILE *f = fopen(pf, "w");
    fputs(POLICY, f);
    fclose(f);
    setenv("CREDBROKER_MASTER_KEY", "0000000000000000000000000000000000000000000000000000000000000001", 1);
    unsetenv("CREDBROKER_API_KEY");
    unsetenv("CREDBROKER_CONFIG");
    cb_paths paths = {.db_path = db, .policies_dir = pd, .config_path = "credbroker.json", .actor = "t"};
    mcp_app *a = NULL;
    cb_error e = {0};
    assert_int_equal(mcp_app_open(&paths, &a, &e), 0);
    mcp_server *srv = mcp_app_server(a, &e);
    assert_non_null(srv);
    mcp_session sess = {0};
    mcp_conn c = {.principal = "analyst", .transport = "stdio", .session = &sess};
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}";
    free(mcp_handle_text(srv, &c, init, strlen(init)));
    const char *list = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
    char *out = mcp_handle_text(srv, &c, list, strlen(list));
    json_t *r = json_loads(out, 0, NULL);
    json_t *tools = json_object_get(json_object_get(r, "result"), "tools");
    assert_int_equal(json_array_size(tools), 2); /* connections_list, query_readonly (no rotate hook, read-only) */
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")), "connections_list");
    json_decref(r);
    free(out);
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"query_readonly\","
                       "\"arguments\":{\"connection\":\"secret_db\",\"sql\":\"SELECT 1\"}}}";
    out = mcp_handle_text(srv, &c, call, strlen(call));
    assert_non_null(strstr(out, "\"isError\":true"));
    assert_non_null(strstr(out, "may not use connection 'secret_db'"));
    free(out);
    /* the same over HTTP: 403 and a JSON-RPC error */
    mcp_conn h = {.principal = "analyst", .transport = "http", .session = &sess, .http = 1};
    mcp_msg m;
    mcp_msg_parse(call, strlen(call), &m);
    int status = 0;
    r = mcp_dispatch(srv, &h, &m, &status);
    mcp_msg_free(&m);
    assert_int_equal(status, 403);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "Forbidden"));
    json_decref(r);
    /* rate_limit_per_min: the third call within a minute is refused (isError, also on HTTP) */
    mcp_conn lc = {.principal = "limited", .transport = "http", .session = &sess, .http = 1};
    const char *cl = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"connections_list\"}}";
    for (int i = 0; i < 3; i++) {
        mcp_msg_parse(cl, strlen(cl), &m);
        status = 0;
        r = mcp_dispatch(srv, &lc, &m, &status);
        mcp_msg_free(&m);
        assert_int_equal(status, 200);
        json_t *res = json_object_get(r, "result");
        if (i < 2) {
            assert_false(json_is_true(json_object_get(res, "isError")));
            assert_int_equal(json_array_size(json_object_get(json_object_get(res, "structuredContent"), "connections")), 0);
        } else {
            assert_true(json_is_true(json_object_get(res, "isError")));
            assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text")),
                                   "rate limit of 2 calls per minute"));
        }
        json_decref(r);
    }
    /* unknown principal sees nothing */
    mcp_conn u = {.principal = "stranger", .transport = "stdio", .session = &sess};
    out = mcp_handle_text(srv, &u, list, strlen(list));
    assert_non_null(strstr(out, "\"tools\":[]"));
    free(out);
    mcp_app_close(a);
    free(db);
    free(pd);
    free(pf);
    char *cmd = cb_sprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorize),    cmocka_unit_test(test_limits),      cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_apikeys),      cmocka_unit_test(test_token_prefix), cmocka_unit_test(test_app_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
