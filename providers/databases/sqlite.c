/* SQLite db_target: a database file, no server, no logins.
 * query_readonly runs on a handle opened SQLITE_OPEN_READONLY (never CREATE), with
 * load_extension off, defensive mode, no ATTACH (limit 0), PRAGMA query_only, and an
 * authorizer that allows reads only: SELECT, reading columns, functions other than
 * load_extension, recursive CTEs, and an allow-list of read-only PRAGMAs. A progress
 * handler enforces the time limit; rows and bytes are capped while stepping.
 * query_execute opens the file read-write (still no CREATE, no ATTACH, no extensions).
 * Rotation does not apply: there is no login (set_password etc. are NULL). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sqlite3.h>
#include "db_target.h"
#include "sqlite_target.h"

struct db_conn {
    char *path;
    sqlite3 *ro, *rw;
    int64_t deadline_ms; /* progress handler: interrupt after this (monotonic ms) */
    int timed_out;
};

static int sl_fail(cb_error *e, sqlite3 *db, int rc, const char *what)
{
    const char *m = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int kind = CB_K_INVALID;
    int prim = rc & 0xff;
    if (prim == SQLITE_AUTH || prim == SQLITE_READONLY || prim == SQLITE_PERM) kind = CB_K_DENIED;
    else if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED || prim == SQLITE_INTERRUPT || prim == SQLITE_CANTOPEN || prim == SQLITE_IOERR)
        kind = CB_K_UNAVAILABLE;
    return cb_fail(e, CB_ERR, kind, "%s: %.400s", what, m ? m : "error");
}

static const char *path_of(const conn_url *u)
{
    const char *p = u->dbname;
    if (p && !strncmp(p, "file:", 5)) p += 5;
    return p;
}

static int open_db(db_conn *c, int readonly, sqlite3 **out, cb_error *e)
{
    *out = NULL;
    sqlite3 *db = NULL;
    /* no SQLITE_OPEN_CREATE: a mistyped path must not create a file; no URI parsing */
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_NOFOLLOW
    flags |= SQLITE_OPEN_NOFOLLOW;
#endif
    int rc = sqlite3_open_v2(c->path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        int r = sl_fail(e, db, rc, "cannot open the database file");
        sqlite3_close(db);
        return r;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
#endif
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0); /* ATTACH could create or read another file */
    sqlite3_busy_timeout(db, 2000);
    if (readonly) sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
    /* the file must really be a database: fail at connect, not at the first query */
    rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int r = sl_fail(e, db, rc, "cannot read the database file");
        sqlite3_close(db);
        return r;
    }
    *out = db;
    return 0;
}

static int sl_connect(const conn_url *url, db_conn **out, cb_error *e)
{
    *out = NULL;
    if (!url || !url->engine || strcmp(url->engine, "sqlite") != 0)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "not a SQLite path");
    const char *p = path_of(url);
    if (!p || !*p || !strcmp(p, ":memory:")) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "SQLite needs a database file path");
    db_conn *c = cb_calloc(1, sizeof *c);
    c->path = cb_strdup(p);
    if (open_db(c, 1, &c->ro, e)) {
        free(c->path);
        free(c);
        return e->code;
    }
    *out = c;
    return 0;
}

static void sl_close(db_conn *c)
{
    if (!c) return;
    sqlite3_close(c->ro);
    sqlite3_close(c->rw);
    free(c->path);
    free(c);
}

static int sl_test_login(const conn_url *url, cb_error *e)
{
    db_conn *c = NULL;
    int rc = sl_connect(url, &c, e);
    sl_close(c);
    return rc;
}

/* ---------- the read-only authorizer ---------- */

/* PRAGMAs that only read, with or without an argument (the argument names a table). */
static const char *const pragma_arg_ok[] = {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", "table_list", NULL};
/* PRAGMAs that read when given no argument (with one, they write). */
static const char *const pragma_noarg_ok[] = {"user_version", "schema_version", "application_id", "page_count",
    "page_size", "encoding", "freelist_count", "data_version", "database_list", "collation_list", "function_list",
    "module_list", "pragma_list", "compile_options", "max_page_count", "auto_vacuum", "journal_mode", "foreign_keys",
    NULL};

static int in_list(const char *const *l, const char *s)
{
    for (size_t i = 0; s && l[i]; i++)
        if (!strcasecmp(l[i], s)) return 1;
    return 0;
}

int sqlite_readonly_authorizer(void *arg, int action, const char *a1, const char *a2, const char *db, const char *trigger)
{
    (void)arg; (void)db; (void)trigger;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_FUNCTION:
        /* a2 = function name */
        if (a2 && (!strcasecmp(a2, "load_extension") || !strcasecmp(a2, "readfile") || !strcasecmp(a2, "writefile") ||
                   !strcasecmp(a2, "edit") || !strcasecmp(a2, "fts3_tokenizer")))
            return SQLITE_DENY;
        return SQLITE_OK;
    case SQLITE_UPDATE:
        /* the parser checks these columns when it sets up an eponymous virtual table
         * (pragma_table_info(...)); IGNORE writes nothing, and the handle is read-only */
        if (a1 && !strcmp(a1, "sqlite_master")) return SQLITE_IGNORE;
        return SQLITE_DENY;
    case SQLITE_PRAGMA:
        if (in_list(pragma_arg_ok, a1)) return SQLITE_OK;
        if (!a2 && in_list(pragma_noarg_ok, a1)) return SQLITE_OK;
        return SQLITE_DENY;
    default:
        /* writes, DDL, ATTACH/DETACH, transactions, ANALYZE, REINDEX, temp objects... */
        return SQLITE_DENY;
    }
}

/* query_execute: anything the file's owner allows, except leaving the file. */
static int execute_authorizer(void *arg, int action, const char *a1, const char *a2, const char *db, const char *trigger)
{
    (void)arg; (void)a1; (void)db; (void)trigger;
    if (action == SQLITE_ATTACH || action == SQLITE_DETACH) return SQLITE_DENY;
    if (action == SQLITE_FUNCTION && a2 && !strcasecmp(a2, "load_extension")) return SQLITE_DENY;
    return SQLITE_OK;
}

static int progress(void *arg)
{
    db_conn *c = arg;
    if (cb_now_ms() > c->deadline_ms) { c->timed_out = 1; return 1; }
    return 0;
}

/* ---------- queries ---------- */

static int only_blanks(const char *p)
{
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ';') p++;
        if (p[0] == '-' && p[1] == '-') { while (*p && *p != '\n') p++; continue; }
        if (p[0] == '/' && p[1] == '*') { const char *q = strstr(p + 2, "*/"); if (!q) return 0; p = q + 2; continue; }
        return *p == 0;
    }
}

static int bind_params(sqlite3_stmt *st, json_t *params, cb_error *e)
{
    if (!params || json_is_null(params)) {
        if (sqlite3_bind_parameter_count(st)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "statement has %d placeholders, 0 params given", sqlite3_bind_parameter_count(st));
        return 0;
    }
    if (!json_is_array(params)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "params must be a JSON array");
    size_t n = json_array_size(params);
    if ((int)n != sqlite3_bind_parameter_count(st))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "statement has %d placeholders, %zu params given", sqlite3_bind_parameter_count(st), n);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(params, i);
        int k = (int)i + 1, rc;
        if (json_is_string(x)) rc = sqlite3_bind_text(st, k, json_string_value(x), (int)json_string_length(x), SQLITE_TRANSIENT);
        else if (json_is_integer(x)) rc = sqlite3_bind_int64(st, k, (sqlite3_int64)json_integer_value(x));
        else if (json_is_real(x)) rc = sqlite3_bind_double(st, k, json_real_value(x));
        else if (json_is_boolean(x)) rc = sqlite3_bind_int(st, k, json_is_true(x));
        else if (json_is_null(x)) rc = sqlite3_bind_null(st, k);
        else return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "param %zu: only strings, numbers, booleans and null can be bound", i + 1);
        if (rc != SQLITE_OK) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "param %zu: cannot bind", i + 1);
    }
    return 0;
}

static json_t *cell(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: return json_null();
    case SQLITE_INTEGER: return json_integer((json_int_t)sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
    case SQLITE_BLOB: {
        const unsigned char *b = sqlite3_column_blob(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        static const char hx[] = "0123456789abcdef";
        char *s = cb_malloc(2 * n + 3);
        s[0] = '\\'; s[1] = 'x';
        for (size_t k = 0; k < n; k++) { s[2 + 2 * k] = hx[b[k] >> 4]; s[3 + 2 * k] = hx[b[k] & 15]; }
        json_t *j = json_stringn(s, 2 * n + 2);
        free(s);
        return j;
    }
    default: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        json_t *s = json_stringn(t ? t : "", n);
        return s ? s : json_stringn_nocheck(t ? t : "", n);
    }
    }
}

static int run_statement(db_conn *c, const char *sql, json_t *params, const db_limits *lim, int readonly,
                         json_t **result, cb_error *e)
{
    *result = NULL;
    if (!sql || !*sql) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty statement");
    if (!readonly && !c->rw && open_db(c, 0, &c->rw, e)) return e->code;
    sqlite3 *db = readonly ? c->ro : c->rw;
    int max_rows = lim && lim->max_rows > 0 ? lim->max_rows : 1000;
    int timeout = lim && lim->statement_timeout_ms > 0 ? lim->statement_timeout_ms : 30000;
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : (size_t)1 << 20;
    c->deadline_ms = cb_now_ms() + timeout;
    c->timed_out = 0;
    sqlite3_progress_handler(db, 1000, progress, c);
    sqlite3_set_authorizer(db, readonly ? sqlite_readonly_authorizer : execute_authorizer, NULL);
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = 0;
    int prc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
    if (prc != SQLITE_OK) { rc = sl_fail(e, db, prc, "query failed"); goto out; }
    if (!st) { rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty statement"); goto out; }
    if (tail && !only_blanks(tail)) { rc = cb_fail(e, CB_EUSAGE, CB_K_DENIED, "only one statement is allowed"); goto out; }
    if (readonly && !sqlite3_stmt_readonly(st)) { rc = cb_fail(e, CB_EUSAGE, CB_K_DENIED, "statement writes: not allowed read-only"); goto out; }
    if ((rc = bind_params(st, params, e))) goto out;
    if (!readonly && sqlite3_get_autocommit(db)) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    json_t *cols = json_array(), *rows = json_array();
    int nc = sqlite3_column_count(st), nrows = 0, truncated = 0;
    size_t bytes = 64;
    for (int i = 0; i < nc; i++) {
        const char *dt = sqlite3_column_decltype(st, i);
        const char *nm = sqlite3_column_name(st, i);
        json_array_append_new(cols, json_pack("{s:s,s:s}", "name", nm ? nm : "", "type", dt ? dt : ""));
        bytes += (nm ? strlen(nm) : 0) + 32;
    }
    int sr;
    while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
        if (nrows >= max_rows) { truncated = 1; break; }
        size_t need = 2;
        for (int i = 0; i < nc; i++) {
            int ty = sqlite3_column_type(st, i);
            /* sizes from the stored value, before any copy into JSON */
            size_t b = ty == SQLITE_NULL ? 4 : ty == SQLITE_INTEGER || ty == SQLITE_FLOAT ? 24 : (size_t)sqlite3_column_bytes(st, i);
            need += (ty == SQLITE_BLOB ? 2 * b + 2 : b) + 4;
        }
        if (bytes + need > max_bytes) { truncated = 1; break; }
        json_t *row = json_array();
        for (int i = 0; i < nc; i++) json_array_append_new(row, cell(st, i));
        json_array_append_new(rows, row);
        bytes += need;
        nrows++;
    }
    if (sr != SQLITE_ROW && sr != SQLITE_DONE) {
        if (c->timed_out) rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "query failed: statement timeout (%d ms)", timeout);
        else rc = sl_fail(e, db, sr, "query failed");
        json_decref(cols);
        json_decref(rows);
        goto out;
    }
    *result = json_pack("{s:o,s:o,s:i,s:b}", "columns", cols, "rows", rows, "row_count", nrows, "truncated", truncated);
    if (truncated) json_object_set_new(*result, "limit_rows", json_integer(max_rows));
    if (!readonly && nc == 0) json_object_set_new(*result, "affected_rows", json_integer(sqlite3_changes(db)));
out:
    sqlite3_finalize(st);
    if (!readonly && !sqlite3_get_autocommit(db)) {
        if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            rc = sl_fail(e, db, sqlite3_errcode(db), "commit failed");
            json_decref(*result);
            *result = NULL;
        }
        if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_set_authorizer(db, NULL, NULL);
    sqlite3_progress_handler(db, 0, NULL, NULL);
    return rc;
}

static int sl_query_ro(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result, cb_error *e)
{
    return run_statement(c, sql, params, lim, 1, result, e);
}

static int sl_query_exec(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result, cb_error *e)
{
    return run_statement(c, sql, params, lim, 0, result, e);
}

static int sl_server_version(db_conn *c, char **out, cb_error *e)
{
    (void)c; (void)e;
    *out = cb_sprintf("SQLite %s", sqlite3_libversion());
    return 0;
}

static int sl_describe(db_conn *c, json_t **out, cb_error *e)
{
    *out = NULL;
    sqlite3_stmt *t = NULL, *q = NULL;
    int rc = sqlite3_prepare_v2(c->ro, "SELECT name, type FROM sqlite_schema WHERE type IN ('table','view')"
                                       " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", -1, &t, NULL);
    if (rc != SQLITE_OK) return sl_fail(e, c->ro, rc, "describe failed");
    json_t *tables = json_array();
    while (sqlite3_step(t) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(t, 0);
        const char *kind = (const char *)sqlite3_column_text(t, 1);
        json_t *tab = json_pack("{s:s,s:s,s:s,s:[],s:[],s:[]}", "schema", "main", "name", name ? name : "", "kind",
                                kind ? kind : "table", "columns", "primary_key", "foreign_keys");
        json_array_append_new(tables, tab);
        if (sqlite3_prepare_v2(c->ro, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid", -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, name ? name : "", -1, SQLITE_TRANSIENT);
            json_t *pk = json_array();
            json_t *pkn = json_array();
            while (sqlite3_step(q) == SQLITE_ROW) {
                const char *cn = (const char *)sqlite3_column_text(q, 0);
                json_array_append_new(json_object_get(tab, "columns"), json_pack("{s:s,s:s,s:b}", "name", cn ? cn : "", "type",
                                      sqlite3_column_text(q, 1) ? (const char *)sqlite3_column_text(q, 1) : "", "nullable", !sqlite3_column_int(q, 2)));
                int k = sqlite3_column_int(q, 3);
                if (k > 0) { json_array_append_new(pk, json_string(cn ? cn : "")); json_array_append_new(pkn, json_integer(k)); }
            }
            /* pk order = the pk column of table_info */
            for (json_int_t want = 1; want <= (json_int_t)json_array_size(pk); want++)
                for (size_t i = 0; i < json_array_size(pkn); i++)
                    if (json_integer_value(json_array_get(pkn, i)) == want)
                        json_array_append(json_object_get(tab, "primary_key"), json_array_get(pk, i));
            json_decref(pk);
            json_decref(pkn);
            sqlite3_finalize(q);
        }
        if (sqlite3_prepare_v2(c->ro, "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq", -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, name ? name : "", -1, SQLITE_TRANSIENT);
            int cur = -1;
            json_t *fk = NULL;
            while (sqlite3_step(q) == SQLITE_ROW) {
                int id = sqlite3_column_int(q, 0);
                if (id != cur) {
                    cur = id;
                    const char *rt = (const char *)sqlite3_column_text(q, 1);
                    char *ref = cb_sprintf("main.%s", rt ? rt : "");
                    char *fkname = cb_sprintf("fk_%s_%d", name ? name : "", id);
                    fk = json_pack("{s:s,s:[],s:s,s:[]}", "name", fkname, "columns", "references_table", ref, "references_columns");
                    free(ref);
                    free(fkname);
                    json_array_append_new(json_object_get(tab, "foreign_keys"), fk);
                }
                const char *from = (const char *)sqlite3_column_text(q, 2), *to = (const char *)sqlite3_column_text(q, 3);
                json_array_append_new(json_object_get(fk, "columns"), json_string(from ? from : ""));
                json_array_append_new(json_object_get(fk, "references_columns"), to ? json_string(to) : json_null());
            }
            sqlite3_finalize(q);
        }
    }
    sqlite3_finalize(t);
    *out = json_pack("{s:o}", "tables", tables);
    return 0;
}

const db_target sqlite_target = {
    .engine = "sqlite",
    .connect = sl_connect,
    .close = sl_close,
    .test_login = sl_test_login,
    .query_readonly = sl_query_ro,
    .query_execute = sl_query_exec,
    .describe_schema = sl_describe,
    .server_version = sl_server_version,
};
