/* MCP tools over connections: connections_list, connection_test, schema_describe,
 * query_readonly, query_execute. Tools take a connection NAME; the URL and password stay
 * in this process, and every driver message is sanitized before it reaches the client. */
#include <stdlib.h>
#include <string.h>
#include "mcp_app.h"
#include "mcp_leases.h"

#define CONN_ARG "\"connection\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,\"description\":\"connection name (see connections_list)\"}"

static const policy_client *client_of(mcp_call_ctx *cx)
{
    return policy_client(((mcp_app *)cx->app)->pol, cx->principal);
}

/* ---- connections_list ---- */

static int t_connections_list(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)args; (void)text;
    mcp_app *a = cx->app;
    const policy_client *c = client_of(cx);
    store_conn *list = NULL;
    size_t n = 0;
    pthread_mutex_lock(&a->store_mu);
    int rc = store_conn_list(a->store, &list, &n, e);
    json_t *arr = json_array();
    for (size_t i = 0; !rc && i < n; i++) {
        store_conn *l = &list[i];
        if (!policy_client_may_use(c, l->name)) continue;
        store_conn sc = {0};
        conn_url u = {0};
        int parsed = store_conn_get(a->store, l->name, 1, &sc, NULL) == 0 && sc.url &&
                     conn_url_parse(sc.url, sc.engine, &u, NULL) == 0;
        store_conn_free(&sc);
        const char *tls = parsed ? conn_url_param(&u, "sslmode") : NULL;
        if (parsed && !tls) tls = conn_url_param(&u, "Encrypt");
        if (parsed && !tls) tls = conn_url_param(&u, "ssl-mode");
        char rot[32] = "";
        if (l->last_rotated) cb_iso8601(l->last_rotated, rot);
        json_t *o = json_pack("{s:s,s:s,s:s*,s:s*,s:s*,s:s,s:s*,s:s,s:s*,s:s*}", "name", l->name, "engine", l->engine,
                              "host", parsed ? u.host : NULL, "database", parsed ? u.dbname : NULL, "user",
                              parsed ? u.user : NULL, "encryption_at_rest", l->encrypted ? "aes-256-gcm" : "none",
                              "tls", tls, "access", policy_mode_name(c->mode), "last_rotated", l->last_rotated ? rot : NULL,
                              "description", l->description);
        if (parsed && u.port) json_object_set_new(o, "port", json_integer(u.port));
        if (l->source_ref) json_object_set_new(o, "provider_backed", json_true());
        json_array_append_new(arr, o);
        if (parsed) conn_url_free(&u);
    }
    pthread_mutex_unlock(&a->store_mu);
    for (size_t i = 0; i < n; i++) store_conn_free(&list[i]);
    free(list);
    if (rc) {
        json_decref(arr);
        return mcp_sanitize_error(e, NULL);
    }
    cx->audit_summary = json_pack("{s:I}", "connections", (json_int_t)json_array_size(arr));
    *structured = json_pack("{s:o}", "connections", arr);
    return 0;
}

/* ---- connection_test ---- */

static int t_connection_test(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    mcp_app *a = cx->app;
    const char *name = json_string_value(json_object_get(args, "connection"));
    cx->audit_summary = json_pack("{s:s}", "connection", name);
    conn_url u;
    if (mcp_conn_url(a, name, &u, e)) return mcp_sanitize_error(e, NULL);
    const db_target *t = db_target_for(u.engine);
    if (!t) {
        int rc = cb_fail(e, CB_ERR, CB_K_INVALID, "engine %s cannot be tested", u.engine);
        conn_url_free(&u);
        return rc;
    }
    char *pw = cb_strdup(u.password);
    int64_t t0 = cb_now_ms();
    db_conn *dc = NULL;
    int rc = t->connect(&u, &dc, e);
    conn_url_free(&u);
    int64_t t1 = cb_now_ms();
    char *ver = NULL;
    if (!rc) rc = t->server_version(dc, &ver, e);
    int64_t t2 = cb_now_ms();
    if (dc) t->close(dc);
    if (rc) {
        rc = mcp_sanitize_error(e, pw);
        cb_free_secret(pw);
        return rc;
    }
    cb_free_secret(pw);
    *structured = json_pack("{s:s,s:b,s:s,s:s,s:I,s:I}", "connection", name, "ok", 1, "engine", t->engine,
                            "server_version", ver, "login_ms", (json_int_t)(t1 - t0), "round_trip_ms",
                            (json_int_t)(t2 - t1));
    free(ver);
    return 0;
}

/* ---- schema_describe ---- */

#define SCHEMA_MAX_TABLES 1000

static int t_schema_describe(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    mcp_app *a = cx->app;
    const char *name = json_string_value(json_object_get(args, "connection"));
    const char *only = json_string_value(json_object_get(args, "schema"));
    cx->audit_summary = json_pack("{s:s}", "connection", name);
    mcp_db db;
    if (mcp_db_acquire(a, cx->principal, name, &db, e)) return mcp_sanitize_error(e, NULL);
    json_t *out = NULL;
    int rc = db.t->describe_schema ? db.t->describe_schema(db.conn, &out, e)
                                   : cb_fail(e, CB_ERR, CB_K_INVALID, "engine cannot describe its schema");
    if (rc) {
        db.broken = e->kind == CB_K_UNAVAILABLE;
        rc = mcp_sanitize_error(e, db.password);
        mcp_db_release(a, &db);
        return rc;
    }
    mcp_db_release(a, &db);
    json_t *tables = json_array(), *src = json_object_get(out, "tables");
    size_t i;
    json_t *tb;
    int truncated = 0;
    json_array_foreach(src, i, tb) {
        if (only && strcmp(only, json_string_value(json_object_get(tb, "schema")) ?: "")) continue;
        if (json_array_size(tables) >= SCHEMA_MAX_TABLES) { truncated = 1; break; }
        json_array_append(tables, tb);
    }
    json_decref(out);
    json_object_set_new(cx->audit_summary, "tables", json_integer((json_int_t)json_array_size(tables)));
    *structured = json_pack("{s:s,s:o,s:b}", "connection", name, "tables", tables, "truncated", truncated);
    return 0;
}

/* ---- query_readonly / query_execute ---- */

/* Engines that stream (db_target.query_json): the rows are written once, as JSON text,
 * and that text is both the text content and structuredContent (mcp_call_ctx
 * structured_json); *structured is only the result's shape, for the schema check. */
static int run_query_json(mcp_call_ctx *cx, mcp_db *db, const char *name, const char *sql, json_t *params,
                          const db_limits *lim, json_t *sum, json_t **structured, cb_error *e, int write)
{
    mcp_app *a = cx->app;
    cb_buf out;
    cb_buf_init(&out, 0);
    db_query_info info = {0, 0, -1};
    int rc = db->t->query_json(db->conn, sql, params, lim, !write, &out, &info, e);
    if (rc) {
        db->broken = e->kind == CB_K_UNAVAILABLE;
        rc = mcp_sanitize_error(e, db->password);
        mcp_db_release(a, db);
        cb_buf_free(&out);
        return rc;
    }
    mcp_db_release(a, db);
    if (!out.len || out.data[out.len - 1] != '}') {
        cb_buf_free(&out);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "the engine returned no result object");
    }
    out.data[--out.len] = 0; /* reopen the object: the envelope's members follow */
    json_t *tail = json_pack("{s:s,s:{s:i,s:i,s:I}}", "connection", name, "limits", "max_rows", lim->max_rows,
                             "statement_timeout_ms", lim->statement_timeout_ms, "max_bytes", (json_int_t)lim->max_bytes);
    if (write && info.affected_rows < 0) json_object_set_new(tail, "affected_rows", json_integer(0));
    char *t = json_dumps(tail, JSON_COMPACT);
    cb_buf_puts(&out, ",");
    cb_buf_puts(&out, t + 1); /* without its '{' */
    free(t);
    json_object_set_new(sum, "rows", json_integer(info.row_count));
    /* result size for the monitor's large-export rule (never the values themselves) */
    json_object_set_new(sum, "bytes", json_integer((json_int_t)out.len));
    json_object_set_new(sum, "truncated", json_boolean(info.truncated));
    if (write) json_object_set_new(sum, "affected_rows", json_integer(info.affected_rows < 0 ? 0 : info.affected_rows));
    /* the shape: every member, arrays left empty */
    json_object_set_new(tail, "columns", json_array());
    json_object_set_new(tail, "rows", json_array());
    json_object_set_new(tail, "row_count", json_integer(info.row_count));
    json_object_set_new(tail, "truncated", json_boolean(info.truncated));
    if (write && info.affected_rows >= 0) json_object_set_new(tail, "affected_rows", json_integer(info.affected_rows));
    *structured = tail;
    cx->structured_json = cb_buf_steal(&out);
    return 0;
}

static int run_query(mcp_call_ctx *cx, json_t *args, json_t **structured, cb_error *e, int write)
{
    mcp_app *a = cx->app;
    const policy_client *c = client_of(cx);
    const char *name = json_string_value(json_object_get(args, "connection"));
    const char *sql = json_string_value(json_object_get(args, "sql"));
    json_t *params = json_object_get(args, "params");
    db_limits lim;
    mcp_client_limits(c, &lim);
    /* audit: the statement and, unless the policy marks them sensitive, the parameters */
    json_t *sum = json_pack("{s:s,s:s%}", "connection", name, "sql", sql, strlen(sql) > 4000 ? (size_t)4000 : strlen(sql));
    if (params && !c->sensitive_params) json_object_set(sum, "params", params);
    else if (params) json_object_set_new(sum, "params_count", json_integer((json_int_t)json_array_size(params)));
    cx->audit_summary = sum;
    char **settings = NULL; /* row-level security context of the calling key */
    if (mcp_session_settings(a, c, cx->principal, &settings, e)) return mcp_sanitize_error(e, NULL);
    lim.session_settings = (const char *const *)settings;
    if (mcp_least_privilege_check(a, c, name, write, e)) {
        mcp_session_settings_free(settings);
        return mcp_sanitize_error(e, NULL);
    }
    mcp_db db;
    if (mcp_db_acquire(a, cx->principal, name, &db, e)) {
        mcp_session_settings_free(settings);
        return mcp_sanitize_error(e, NULL);
    }
    if (db.t->query_json) {
        int qrc = run_query_json(cx, &db, name, sql, params, &lim, sum, structured, e, write);
        mcp_session_settings_free(settings);
        return qrc;
    }
    json_t *res = NULL;
    int rc;
    if (write) rc = db.t->query_execute ? db.t->query_execute(db.conn, sql, params, &lim, &res, e)
                                        : cb_fail(e, CB_ERR, CB_K_INVALID, "engine cannot execute statements");
    else rc = db.t->query_readonly(db.conn, sql, params, &lim, &res, e);
    mcp_session_settings_free(settings);
    if (rc) {
        db.broken = e->kind == CB_K_UNAVAILABLE;
        rc = mcp_sanitize_error(e, db.password);
        mcp_db_release(a, &db);
        return rc;
    }
    mcp_db_release(a, &db);
    json_object_set_new(sum, "rows", json_integer(json_integer_value(json_object_get(res, "row_count"))));
    /* result size for the monitor's large-export rule (never the values themselves) */
    char *rj = json_dumps(json_object_get(res, "rows"), JSON_COMPACT);
    json_object_set_new(sum, "bytes", json_integer(rj ? (json_int_t)strlen(rj) : 0));
    free(rj);
    json_object_set(sum, "truncated", json_object_get(res, "truncated"));
    json_object_del(res, "limit_rows");
    json_object_set_new(res, "connection", json_string(name));
    json_object_set_new(res, "limits", json_pack("{s:i,s:i,s:I}", "max_rows", lim.max_rows, "statement_timeout_ms",
                                                 lim.statement_timeout_ms, "max_bytes", (json_int_t)lim.max_bytes));
    if (write && !json_object_get(res, "affected_rows")) json_object_set_new(res, "affected_rows", json_integer(0));
    if (write) json_object_set(sum, "affected_rows", json_object_get(res, "affected_rows"));
    *structured = res;
    return 0;
}

static int t_query_readonly(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    return run_query(cx, args, structured, e, 0);
}

static int t_query_execute(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    return run_query(cx, args, structured, e, 1);
}

/* ---- registration ---- */

#define QUERY_IN                                                                                                      \
    "{\"type\":\"object\",\"properties\":{" CONN_ARG ","                                                              \
    "\"sql\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100000,\"description\":\"exactly one SQL statement; "  \
    "use $1, $2, ... for values\"},"                                                                                  \
    "\"params\":{\"type\":\"array\",\"maxItems\":1000,\"description\":\"values bound to $1, $2, ... (strings, "        \
    "numbers, booleans, null)\",\"items\":{\"type\":[\"string\",\"number\",\"boolean\",\"null\"]}}},"               \
    "\"required\":[\"connection\",\"sql\"],\"additionalProperties\":false}"

#define QUERY_OUT(extra)                                                                                              \
    "{\"type\":\"object\",\"properties\":{\"connection\":{\"type\":\"string\"},"                                      \
    "\"columns\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"   \
    "\"type\":{\"type\":\"string\"}},\"required\":[\"name\",\"type\"]}},"                                            \
    "\"rows\":{\"type\":\"array\",\"items\":{\"type\":\"array\"}},\"row_count\":{\"type\":\"integer\"},"              \
    "\"truncated\":{\"type\":\"boolean\"}," extra                                                                     \
    "\"limits\":{\"type\":\"object\",\"properties\":{\"max_rows\":{\"type\":\"integer\"},"                            \
    "\"statement_timeout_ms\":{\"type\":\"integer\"},\"max_bytes\":{\"type\":\"integer\"}},"                          \
    "\"required\":[\"max_rows\",\"statement_timeout_ms\",\"max_bytes\"]}},"                                           \
    "\"required\":[\"connection\",\"columns\",\"rows\",\"row_count\",\"truncated\",\"limits\"]}"

static const mcp_tool QUERY_TOOLS[] = {
    {"connections_list", "List connections",
     "Lists the database connections this client may use: name, engine, host, port, database, user, encryption at "
     "rest, TLS setting, this client's access mode and the last password rotation. Never shows a password.",
     NULL,
     "{\"type\":\"object\",\"properties\":{\"connections\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
     "\"properties\":{\"name\":{\"type\":\"string\"},\"engine\":{\"type\":\"string\"},\"host\":{\"type\":\"string\"},"
     "\"port\":{\"type\":\"integer\"},\"database\":{\"type\":\"string\"},\"user\":{\"type\":\"string\"},"
     "\"encryption_at_rest\":{\"type\":\"string\"},\"tls\":{\"type\":\"string\"},\"access\":{\"type\":\"string\","
     "\"enum\":[\"read-only\",\"read-write\"]},\"last_rotated\":{\"type\":\"string\"},\"description\":{\"type\":\"string\"},"
     "\"provider_backed\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"engine\",\"encryption_at_rest\",\"access\"]}}},"
     "\"required\":[\"connections\"]}",
     1, 0, 1, 0, NULL, t_connections_list},
    {"connection_test", "Test a connection",
     "Logs in to the named connection with its stored credentials and reports the server version, the login time "
     "and one round trip in milliseconds.",
     "{\"type\":\"object\",\"properties\":{" CONN_ARG "},\"required\":[\"connection\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"connection\":{\"type\":\"string\"},\"ok\":{\"type\":\"boolean\"},"
     "\"engine\":{\"type\":\"string\"},\"server_version\":{\"type\":\"string\"},\"login_ms\":{\"type\":\"integer\"},"
     "\"round_trip_ms\":{\"type\":\"integer\"}},\"required\":[\"connection\",\"ok\",\"server_version\",\"round_trip_ms\"]}",
     1, 0, 1, 1, NULL, t_connection_test},
    {"schema_describe", "Describe the schema",
     "Tables and views of the named connection visible to its user: columns (name, type, nullable), primary keys and "
     "foreign keys. Optional schema filter. At most 1000 tables (truncated says so).",
     "{\"type\":\"object\",\"properties\":{" CONN_ARG ",\"schema\":{\"type\":\"string\",\"minLength\":1,"
     "\"maxLength\":128,\"description\":\"only this schema (e.g. public)\"}},\"required\":[\"connection\"],"
     "\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"connection\":{\"type\":\"string\"},\"tables\":{\"type\":\"array\","
     "\"items\":{\"type\":\"object\"}},\"truncated\":{\"type\":\"boolean\"}},\"required\":[\"connection\",\"tables\","
     "\"truncated\"]}",
     1, 0, 1, 1, NULL, t_schema_describe},
    {"query_readonly", "Read-only SQL query",
     "Runs exactly ONE SQL statement on the named connection inside a READ ONLY transaction that is always rolled "
     "back, with values bound as parameters ($1, $2, ...; never put values into the SQL text). The client's policy "
     "sets a statement timeout, a row cap and a byte cap: when a cap is hit, truncated is true. Results are columns "
     "and rows.",
     QUERY_IN, QUERY_OUT(""), 1, 0, 1, 1, NULL, t_query_readonly},
    {"query_execute", "Execute a SQL statement (writes)",
     "Runs exactly ONE SQL statement that may write (INSERT, UPDATE, DELETE, DDL) on the named connection and commits "
     "it. Only for clients whose policy grants read-write. Values are bound as parameters ($1, $2, ...). Reports "
     "affected_rows and any returned rows (capped like query_readonly).",
     QUERY_IN, QUERY_OUT("\"affected_rows\":{\"type\":\"integer\"},"), 0, 1, 0, 1, NULL, t_query_execute},
};

const mcp_tool_set mcp_tools_query = {QUERY_TOOLS, sizeof QUERY_TOOLS / sizeof QUERY_TOOLS[0], 0};
