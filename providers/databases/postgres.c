/* PostgreSQL db_target over libpq.
 * Model-supplied SQL only ever goes through the extended protocol (PQsendQueryParams:
 * Parse/Bind/Execute, which the server limits to ONE statement), inside
 * BEGIN READ ONLY with SET LOCAL timeouts, and is always rolled back. A small first-word
 * allow-list and an admin-function deny-list are extra layers, not the guard. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libpq-fe.h>
#include <openssl/sha.h>
#include "db_target.h"
#include "postgres.h"
#include "pg_lexer.h"

struct db_conn {
    PGconn *pg;
    char *password; /* for redacting driver messages */
};

int pg_readonly_prefilter = 1;

static void quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* notices may quote user data; never print them */
}

/* One-line, sanitized driver message (no password, no URL/conninfo). */
static int pg_fail(cb_error *e, int kind, const char *what, const char *msg, const char *pw)
{
    char *r = conn_redact_text(msg ? msg : "", pw);
    for (char *p = r; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    size_t n = strlen(r);
    while (n && r[n - 1] == ' ') r[--n] = 0;
    const char *m = r;
    if (!strncmp(m, "ERROR:  ", 8)) m += 8;
    int rc = cb_fail(e, CB_ERR, kind, "%s: %.400s", what, m);
    cb_free_secret(r);
    return rc;
}

static int classify(const char *msg)
{
    if (!msg) return CB_K_UNAVAILABLE;
    if (strstr(msg, "password authentication failed") || strstr(msg, "authentication failed") ||
        strstr(msg, "no password supplied") || strstr(msg, "permission denied") || strstr(msg, "no pg_hba.conf entry") ||
        strstr(msg, "does not exist"))
        return CB_K_DENIED;
    return CB_K_UNAVAILABLE;
}

static int pg_connect(const conn_url *url, db_conn **out, cb_error *e)
{
    *out = NULL;
    if (!url || !url->engine || strcmp(url->engine, "postgres") != 0)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "not a PostgreSQL connection string");
    char *ci = conn_url_to_libpq(url);
    if (!conn_url_param(url, "connect_timeout")) {
        char *x = cb_sprintf("%s%sconnect_timeout='10'", ci, *ci ? " " : "");
        cb_free_secret(ci);
        ci = x;
    }
    PGconn *pg = PQconnectdb(ci);
    cb_free_secret(ci);
    if (!pg) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "out of memory");
    if (PQstatus(pg) != CONNECTION_OK) {
        const char *m = PQerrorMessage(pg);
        int rc = pg_fail(e, classify(m), "connection failed", m, url->password);
        PQfinish(pg);
        return rc;
    }
    PQsetNoticeProcessor(pg, quiet_notices, NULL);
    db_conn *c = cb_calloc(1, sizeof *c);
    c->pg = pg;
    c->password = cb_strdup(url->password);
    *out = c;
    return 0;
}

static void pg_close(db_conn *c)
{
    if (!c) return;
    PQfinish(c->pg);
    cb_free_secret(c->password);
    free(c);
}

static int res_fail(db_conn *c, PGresult *r, const char *what, cb_error *e)
{
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg);
    if (!m || !*m) m = PQerrorMessage(c->pg);
    int kind = CB_K_INVALID;
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (st && (!strncmp(st, "42501", 5) || !strncmp(st, "28", 2))) kind = CB_K_DENIED;
    else if (st && !strcmp(st, "57014")) kind = CB_K_UNAVAILABLE; /* statement timeout / cancel */
    else if (!r || PQstatus(c->pg) != CONNECTION_OK) kind = CB_K_UNAVAILABLE;
    int rc = pg_fail(e, kind, what, m, c->password);
    PQclear(r);
    return rc;
}

/* Runs one statement of ours (constant text or properly escaped). */
static int exec_cmd(db_conn *c, const char *sql, cb_error *e)
{
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return res_fail(c, r, "query failed", e);
    PQclear(r);
    return 0;
}

static int pg_set_password(db_conn *c, const char *user, const char *pw, const char *old_pw, cb_error *e)
{
    (void)old_pw; /* a superuser/CREATEROLE admin needs no old password in PostgreSQL */
    if (!user || !*user || !pw) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "user and password required");
    /* NULL algorithm: the server's password_encryption (scram-sha-256 by default) */
    char *hash = PQencryptPasswordConn(c->pg, pw, user, NULL);
    if (!hash) return pg_fail(e, CB_K_UNAVAILABLE, "password hashing failed", PQerrorMessage(c->pg), pw);
    char *id = PQescapeIdentifier(c->pg, user, strlen(user));
    char *lit = PQescapeLiteral(c->pg, hash, strlen(hash));
    cb_wipe(hash, strlen(hash));
    PQfreemem(hash);
    if (!id || !lit) {
        if (lit) { cb_wipe(lit, strlen(lit)); PQfreemem(lit); }
        PQfreemem(id);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot escape user name");
    }
    char *sql = cb_sprintf("ALTER ROLE %s PASSWORD %s", id, lit);
    cb_wipe(lit, strlen(lit));
    PQfreemem(lit);
    PQfreemem(id);
    PGresult *r = PQexec(c->pg, sql);
    cb_free_secret(sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return res_fail(c, r, "ALTER ROLE failed", e);
    PQclear(r);
    return 0;
}

static int pg_test_login(const conn_url *url, cb_error *e)
{
    db_conn *c = NULL;
    int rc = pg_connect(url, &c, e);
    pg_close(c);
    return rc;
}

static int pg_terminate(db_conn *c, const char *user, int *count, cb_error *e)
{
    const char *vals[1] = {user};
    PGresult *r = PQexecParams(c->pg,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
        1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return res_fail(c, r, "terminate failed", e);
    if (count) *count = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* Advisory lock key: the first 8 bytes (big endian, as a signed int64) of
 * SHA-256("credbroker:" || name). Stable across versions and independent of the
 * server's hashtext(), so any credbroker instance derives the same key. */
long long pg_lock_key(const char *name)
{
    unsigned char md[32];
    char *in = cb_sprintf("credbroker:%s", name);
    SHA256((const unsigned char *)in, strlen(in), md);
    free(in);
    unsigned long long k = 0;
    for (int i = 0; i < 8; i++) k = (k << 8) | md[i];
    return (long long)k;
}

static int lock_call(db_conn *c, const char *fn, const char *name, int *out, cb_error *e)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", pg_lock_key(name));
    const char *vals[1] = {key};
    char *sql = cb_sprintf("SELECT pg_catalog.%s($1::bigint)", fn);
    PGresult *r = PQexecParams(c->pg, sql, 1, NULL, vals, NULL, NULL, 0);
    free(sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return res_fail(c, r, "advisory lock failed", e);
    *out = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

static int pg_lock(db_conn *c, const char *name, int *acquired, cb_error *e)
{
    return lock_call(c, "pg_try_advisory_lock", name, acquired, e);
}

static int pg_unlock(db_conn *c, const char *name, cb_error *e)
{
    int ok = 0;
    int rc = lock_call(c, "pg_advisory_unlock", name, &ok, e);
    if (rc) return rc;
    if (!ok) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "lock was not held");
    return 0;
}

/* ---------- queries ---------- */

/* The text layer (pg_lexer.c): one statement, allowed first keyword, no denied function
 * under any spelling the server's lexer accepts. */
static int prefilter(const char *sql, cb_error *e)
{
    char why[400];
    if (pg_readonly_check(sql, why, sizeof why) == 0) return 0;
    return cb_fail(e, CB_EUSAGE, CB_K_DENIED, "%s", why);
}

static const char *type_name(Oid t)
{
    switch (t) {
    case 16: return "bool";
    case 17: return "bytea";
    case 18: return "char";
    case 19: return "name";
    case 20: return "int8";
    case 21: return "int2";
    case 23: return "int4";
    case 25: return "text";
    case 26: return "oid";
    case 114: return "json";
    case 700: return "float4";
    case 701: return "float8";
    case 1042: return "bpchar";
    case 1043: return "varchar";
    case 1082: return "date";
    case 1083: return "time";
    case 1114: return "timestamp";
    case 1184: return "timestamptz";
    case 1186: return "interval";
    case 1700: return "numeric";
    case 2950: return "uuid";
    case 3802: return "jsonb";
    default: return NULL;
    }
}

static json_t *cell(PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return json_null();
    const char *v = PQgetvalue(r, row, col);
    switch (PQftype(r, col)) {
    case 16: return json_boolean(v[0] == 't');
    case 20: case 21: case 23: case 26: {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (!*end) return json_integer(x);
        return json_string(v);
    }
    case 700: case 701: {
        char *end;
        double d = strtod(v, &end);
        if (!*end && strcasecmp(v, "nan") && strcasecmp(v, "infinity") && strcasecmp(v, "-infinity"))
            return json_real(d);
        return json_string(v);
    }
    default: {
        json_t *s = json_string(v);
        return s ? s : json_stringn_nocheck(v, strlen(v)); /* bytea/odd encodings */
    }
    }
}

/* Binds a JSON array of scalars as text parameters. */
static int bind_params(json_t *params, int *n, char ***vals, cb_error *e)
{
    *n = 0;
    *vals = NULL;
    if (!params || json_is_null(params)) return 0;
    if (!json_is_array(params)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "params must be a JSON array");
    size_t cnt = json_array_size(params);
    if (cnt > 65535) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "too many params");
    char **v = cb_calloc(cnt ? cnt : 1, sizeof *v);
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(params, i);
        if (json_is_string(x)) {
            if (memchr(json_string_value(x), 0, json_string_length(x))) goto bad;
            v[i] = cb_strdup(json_string_value(x));
        } else if (json_is_integer(x)) v[i] = cb_sprintf("%lld", (long long)json_integer_value(x));
        else if (json_is_real(x)) v[i] = cb_sprintf("%.17g", json_real_value(x));
        else if (json_is_true(x)) v[i] = cb_strdup("true");
        else if (json_is_false(x)) v[i] = cb_strdup("false");
        else if (json_is_null(x)) v[i] = NULL;
        else {
bad:
            for (size_t j = 0; j < i; j++) free(v[j]);
            free(v);
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "param %zu: only strings, numbers, booleans and null can be bound", i + 1);
        }
    }
    *n = (int)cnt;
    *vals = v;
    return 0;
}

static void cancel_running(PGconn *pg)
{
    PGcancel *cn = PQgetCancel(pg);
    if (cn) {
        char err[256];
        PQcancel(cn, err, sizeof err);
        PQfreeCancel(cn);
    }
}

/* After our ROLLBACK/COMMIT the session must be idle and healthy; otherwise reset it so
 * nothing (an open transaction, a half-read result) carries into the next call. */
static void ensure_clean(db_conn *c)
{
    if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE) return;
    PQreset(c->pg);
    if (PQstatus(c->pg) == CONNECTION_OK) PQsetNoticeProcessor(c->pg, quiet_notices, NULL);
}

/* ---------- session settings (row-level security context) ----------
 * Called inside the transaction, before the model's statement. SET LOCAL (not the
 * set_config() function, so a DBA can REVOKE EXECUTE ON set_config FROM PUBLIC and the
 * model's statement cannot forge the value): transaction-local, so the ROLLBACK ends it
 * and nothing crosses to the next call. Names are custom settings checked by the policy
 * and quoted here part by part; values are escaped literals. Kept apart from
 * run_statement so the pipelined query path can send the same statement. */
static int pg_apply_session_settings(db_conn *c, const char *const *kv, cb_error *e)
{
    for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
        cb_buf b;
        cb_buf_init(&b, 1);
        cb_buf_append(&b, "SET LOCAL ", 10);
        const char *p = kv[i];
        for (;;) {
            const char *dot = strchr(p, '.');
            size_t n = dot ? (size_t)(dot - p) : strlen(p);
            char *q = n ? PQescapeIdentifier(c->pg, p, n) : NULL;
            if (!q) {
                cb_buf_free(&b);
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid setting name");
            }
            cb_buf_append(&b, q, strlen(q));
            PQfreemem(q);
            if (!dot) break;
            cb_buf_append(&b, ".", 1);
            p = dot + 1;
        }
        char *lit = PQescapeLiteral(c->pg, kv[i + 1], strlen(kv[i + 1]));
        if (!lit) {
            cb_buf_free(&b);
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid setting value");
        }
        cb_buf_append(&b, " = ", 3);
        cb_buf_append(&b, lit, strlen(lit));
        PQfreemem(lit);
        char *sql = cb_buf_steal(&b);
        int rc = exec_cmd(c, sql, e);
        free(sql);
        if (rc) return rc;
    }
    return 0;
}

static int run_statement(db_conn *c, const char *sql, json_t *params, const db_limits *lim, int readonly,
                         json_t **result, cb_error *e)
{
    *result = NULL;
    if (!sql || !*sql) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty statement");
    /* extra layers for read-only requests; query_execute is gated by policy instead */
    if (readonly && pg_readonly_prefilter && prefilter(sql, e)) return CB_EUSAGE;
    int nparams = 0;
    char **vals = NULL;
    if (bind_params(params, &nparams, &vals, e)) return CB_EUSAGE;
    int max_rows = lim && lim->max_rows > 0 ? lim->max_rows : 1000;
    int timeout = lim && lim->statement_timeout_ms > 0 ? lim->statement_timeout_ms : 30000;
    if (timeout > 86400000) timeout = 86400000; /* a day; keeps timeout + 5000 in range */
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : (size_t)1 << 20;
    int rc = 0;

    ensure_clean(c);
    if (PQstatus(c->pg) != CONNECTION_OK) { rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "connection lost"); goto out; }
    /* Our own constant text, one round trip. The trailing SELECT takes the transaction's
     * first snapshot: afterwards `SET transaction_read_only = off` fails ("must be set
     * before any query") instead of turning the guard off. */
    char setsql[256];
    snprintf(setsql, sizeof setsql,
             "%s; SET LOCAL statement_timeout = %d; SET LOCAL idle_in_transaction_session_timeout = %d%s",
             readonly ? "BEGIN READ ONLY" : "BEGIN", timeout, timeout + 5000, readonly ? "; SELECT 1" : "");
    if ((rc = exec_cmd(c, setsql, e))) goto rollback;
    if (lim && lim->session_settings && (rc = pg_apply_session_settings(c, lim->session_settings, e))) goto rollback;

    /* Extended protocol: one statement only ("cannot insert multiple commands into a
     * prepared statement"). */
    if (!PQsendQueryParams(c->pg, sql, nparams, NULL, (const char *const *)vals, NULL, NULL, 0)) {
        rc = pg_fail(e, CB_K_UNAVAILABLE, "query failed", PQerrorMessage(c->pg), c->password);
        goto rollback;
    }
    PQsetSingleRowMode(c->pg);
    json_t *cols = json_array(), *rows = json_array();
    int nrows = 0, truncated = 0, have_cols = 0;
    size_t bytes = 64;
    char *cmd_tuples = NULL;
    PGresult *r;
    Oid *unknown = NULL;
    int nunknown = 0;
    while ((r = PQgetResult(c->pg))) {
        ExecStatusType st = PQresultStatus(r);
        if ((st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) && !have_cols) {
            have_cols = 1;
            int nf = PQnfields(r);
            for (int i = 0; i < nf; i++) {
                const char *tn = type_name(PQftype(r, i));
                json_array_append_new(cols, json_pack("{s:s,s:s,s:I}", "name", PQfname(r, i), "type", tn ? tn : "",
                                                      "_oid", (json_int_t)PQftype(r, i)));
                if (!tn) {
                    unknown = cb_realloc(unknown, (size_t)(nunknown + 1) * sizeof *unknown);
                    unknown[nunknown++] = PQftype(r, i);
                }
                bytes += strlen(PQfname(r, i)) + 32;
            }
        }
        if (st == PGRES_SINGLE_TUPLE) {
            if (truncated) { PQclear(r); continue; }
            if (nrows >= max_rows) {
                truncated = 1;
                cancel_running(c->pg);
                PQclear(r);
                continue;
            }
            json_t *row = json_array();
            size_t rb = 2;
            for (int i = 0; i < PQnfields(r); i++) {
                json_array_append_new(row, cell(r, 0, i));
                rb += (size_t)PQgetlength(r, 0, i) + 4;
            }
            if (bytes + rb > max_bytes) {
                json_decref(row);
                truncated = 1;
                cancel_running(c->pg);
                PQclear(r);
                continue;
            }
            bytes += rb;
            json_array_append_new(rows, row);
            nrows++;
        } else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            free(cmd_tuples);
            cmd_tuples = cb_strdup(PQcmdTuples(r));
        } else if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
            const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (!(truncated && ss && !strcmp(ss, "57014")) && !rc) {
                rc = res_fail(c, r, "query failed", e);
                continue;
            }
        } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            if (!rc) rc = cb_fail(e, CB_EUSAGE, CB_K_DENIED, "COPY is not supported");
            PQclear(r);
            if (st == PGRES_COPY_IN) PQputCopyEnd(c->pg, "not supported");
            else if (st == PGRES_COPY_OUT) { char *buf; while (PQgetCopyData(c->pg, &buf, 0) > 0) PQfreemem(buf); }
            else break; /* replication stream: abandon it; ensure_clean() resets the session */
            continue;
        }
        PQclear(r);
    }
    /* Types not in the built-in table: ask the catalog, still inside our transaction. */
    for (int i = 0; !rc && i < nunknown; i++) {
        if (PQtransactionStatus(c->pg) != PQTRANS_INTRANS) break;
        char oid[16];
        snprintf(oid, sizeof oid, "%u", unknown[i]);
        const char *v[1] = {oid};
        PGresult *tr = PQexecParams(c->pg, "SELECT pg_catalog.format_type($1::oid, NULL)", 1, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(tr) == PGRES_TUPLES_OK && PQntuples(tr) == 1) {
            for (size_t ci = 0; ci < json_array_size(cols); ci++) {
                json_t *col = json_array_get(cols, ci);
                if ((Oid)json_integer_value(json_object_get(col, "_oid")) == unknown[i])
                    json_object_set_new(col, "type", json_string(PQgetvalue(tr, 0, 0)));
            }
        }
        PQclear(tr);
    }
    for (size_t ci = 0; ci < json_array_size(cols); ci++) json_object_del(json_array_get(cols, ci), "_oid");
    if (rc) {
        json_decref(cols);
        json_decref(rows);
        free(cmd_tuples);
        free(unknown);
        goto rollback;
    }
    *result = json_pack("{s:o,s:o,s:i,s:b}", "columns", cols, "rows", rows, "row_count", nrows, "truncated", truncated);
    if (truncated) json_object_set_new(*result, "limit_rows", json_integer(max_rows));
    if (!readonly && cmd_tuples && *cmd_tuples) json_object_set_new(*result, "affected_rows", json_integer(atoll(cmd_tuples)));
    free(cmd_tuples);
    free(unknown);
    if (!readonly) {
        PGTransactionStatusType ts = PQtransactionStatus(c->pg);
        if (ts == PQTRANS_INTRANS) {
            if ((rc = exec_cmd(c, "COMMIT", e))) { json_decref(*result); *result = NULL; }
        }
        ensure_clean(c);
        goto out;
    }
rollback:
    {
        PGresult *rr = PQexec(c->pg, "ROLLBACK");
        PQclear(rr);
        ensure_clean(c);
    }
out:
    for (int i = 0; i < nparams; i++) cb_free_secret(vals[i]);
    free(vals);
    return rc;
}

static int pg_query_ro(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result, cb_error *e)
{
    return run_statement(c, sql, params, lim, 1, result, e);
}

static int pg_query_exec(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result, cb_error *e)
{
    return run_statement(c, sql, params, lim, 0, result, e);
}

static int pg_server_version(db_conn *c, char **out, cb_error *e)
{
    PGresult *r = PQexec(c->pg, "SHOW server_version");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *out = cb_strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
        return 0;
    }
    PQclear(r);
    int v = PQserverVersion(c->pg);
    if (!v) return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "server version unknown");
    *out = v >= 100000 ? cb_sprintf("%d.%d", v / 10000, v % 10000) : cb_sprintf("%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    return 0;
}

static json_t *find_table(json_t *tables, json_t *idx, const char *schema, const char *name)
{
    char *k = cb_sprintf("%s\x1f%s", schema, name);
    json_t *t = json_object_get(idx, k);
    free(k);
    (void)tables;
    return t;
}

static int pg_describe(db_conn *c, json_t **out, cb_error *e)
{
    *out = NULL;
    PGresult *r = PQexec(c->pg,
        "SELECT n.nspname, c.relname, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'"
        " WHEN 'f' THEN 'foreign_table' ELSE 'table' END, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
        " NOT a.attnotnull FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE c.relkind IN ('r','p','v','m','f') AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') AND"
        " n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'"
        " AND n.nspname NOT LIKE 'pg\\_temp\\_%' ORDER BY 1, 2, a.attnum");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return res_fail(c, r, "describe failed", e);
    json_t *tables = json_array(), *idx = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        const char *s = PQgetvalue(r, i, 0), *t = PQgetvalue(r, i, 1);
        json_t *tab = find_table(tables, idx, s, t);
        if (!tab) {
            tab = json_pack("{s:s,s:s,s:s,s:[],s:[],s:[]}", "schema", s, "name", t, "kind", PQgetvalue(r, i, 2),
                            "columns", "primary_key", "foreign_keys");
            json_array_append_new(tables, tab);
            char *k = cb_sprintf("%s\x1f%s", s, t);
            json_object_set(idx, k, tab);
            free(k);
        }
        if (!PQgetisnull(r, i, 3))
            json_array_append_new(json_object_get(tab, "columns"),
                                  json_pack("{s:s,s:s,s:b}", "name", PQgetvalue(r, i, 3), "type", PQgetvalue(r, i, 4),
                                            "nullable", PQgetvalue(r, i, 5)[0] == 't'));
    }
    PQclear(r);
    r = PQexec(c->pg,
        "SELECT n.nspname, c.relname, k.contype, k.conname, a.attname, rn.nspname, rc.relname, ra.attname"
        " FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS ck(attnum, ord)"
        " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = ck.attnum"
        " LEFT JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid"
        " LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace"
        " LEFT JOIN pg_catalog.pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[ck.ord]"
        " WHERE k.contype IN ('p','f') ORDER BY n.nspname, c.relname, k.contype, k.conname, ck.ord");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        json_decref(tables);
        json_decref(idx);
        return res_fail(c, r, "describe failed", e);
    }
    json_t *cur_fk = NULL;
    char *cur_name = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *tab = find_table(tables, idx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        if (!tab) continue;
        if (PQgetvalue(r, i, 2)[0] == 'p') {
            json_array_append_new(json_object_get(tab, "primary_key"), json_string(PQgetvalue(r, i, 4)));
            continue;
        }
        char *key = cb_sprintf("%s\x1f%s\x1f%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 3));
        if (!cur_name || strcmp(cur_name, key)) {
            free(cur_name);
            cur_name = key;
            char *ref = cb_sprintf("%s.%s", PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
            cur_fk = json_pack("{s:s,s:[],s:s,s:[]}", "name", PQgetvalue(r, i, 3), "columns", "references_table", ref,
                               "references_columns");
            free(ref);
            json_array_append_new(json_object_get(tab, "foreign_keys"), cur_fk);
        } else {
            free(key);
        }
        json_array_append_new(json_object_get(cur_fk, "columns"), json_string(PQgetvalue(r, i, 4)));
        json_array_append_new(json_object_get(cur_fk, "references_columns"), json_string(PQgetvalue(r, i, 7)));
    }
    free(cur_name);
    PQclear(r);
    json_decref(idx);
    *out = json_pack("{s:o}", "tables", tables);
    return 0;
}

/* ---------- lease family: per-client query logins ----------
 * CREATE ROLE with a verifier hashed here (PQencryptPasswordConn), so the plaintext
 * never reaches the server or its log; no attribute beyond LOGIN; inherited membership
 * of the DBA's roles. Identifiers go through PQescapeIdentifier. */

static char *pg_ident(db_conn *c, const char *s, cb_error *e)
{
    char *q = s ? PQescapeIdentifier(c->pg, s, strlen(s)) : NULL;
    if (!q) cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot quote identifier");
    return q;
}

static int pg_lease_create(db_conn *c, const db_lease_spec *spec, const char *password, cb_error *e)
{
    if (!spec || !spec->login || !*spec->login || !password)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "lease: login and password required");
    char *hash = PQencryptPasswordConn(c->pg, password, spec->login, NULL);
    if (!hash) return pg_fail(e, CB_K_UNAVAILABLE, "password hashing failed", PQerrorMessage(c->pg), password);
    char *lit = PQescapeLiteral(c->pg, hash, strlen(hash));
    cb_wipe(hash, strlen(hash));
    PQfreemem(hash);
    char *id = pg_ident(c, spec->login, e);
    if (!lit || !id) {
        if (lit) { cb_wipe(lit, strlen(lit)); PQfreemem(lit); }
        PQfreemem(id);
        return id ? cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot escape password") : CB_ERR;
    }
    cb_buf b;
    cb_buf_init(&b, 1);
    char *head = cb_sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
                            " CONNECTION LIMIT %d PASSWORD ", id, spec->connection_limit > 0 ? spec->connection_limit : -1);
    cb_buf_append(&b, head, strlen(head));
    free(head);
    cb_buf_append(&b, lit, strlen(lit));
    cb_wipe(lit, strlen(lit));
    PQfreemem(lit);
    if (spec->valid_until > 0) {
        char vu[96], ts[32];
        cb_iso8601(spec->valid_until, ts);
        snprintf(vu, sizeof vu, " VALID UNTIL '%s'", ts);
        cb_buf_append(&b, vu, strlen(vu));
    }
    int rc = 0;
    if (spec->member_of && spec->member_of[0]) {
        cb_buf_append(&b, " IN ROLE ", 9);
        for (size_t i = 0; spec->member_of[i] && !rc; i++) {
            char *r = pg_ident(c, spec->member_of[i], e);
            if (!r) { rc = CB_ERR; break; }
            if (i) cb_buf_append(&b, ", ", 2);
            cb_buf_append(&b, r, strlen(r));
            PQfreemem(r);
        }
    }
    PQfreemem(id);
    char *sql = cb_buf_steal(&b);
    if (!rc) {
        PGresult *r = PQexec(c->pg, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = res_fail(c, r, "CREATE ROLE failed", e);
        else PQclear(r);
    }
    cb_free_secret(sql);
    return rc;
}

static int pg_lease_renew(db_conn *c, const char *login, int64_t valid_until, cb_error *e)
{
    char *id = pg_ident(c, login, e);
    if (!id) return CB_ERR;
    char ts[32];
    cb_iso8601(valid_until, ts);
    char *sql = cb_sprintf("ALTER ROLE %s VALID UNTIL '%s'", id, ts);
    PQfreemem(id);
    int rc = exec_cmd(c, sql, e);
    free(sql);
    return rc;
}

static int pg_lease_drop(db_conn *c, const char *login, const char *host, cb_error *e)
{
    (void)host;
    const char *vals[1] = {login};
    PGresult *r = PQexecParams(c->pg, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return res_fail(c, r, "lease drop failed", e);
    int exists = PQntuples(r) == 1;
    PQclear(r);
    if (!exists) return 0; /* idempotent: crash recovery drops what may not exist */
    char *id = pg_ident(c, login, e);
    if (!id) return CB_ERR;
    /* NOLOGIN first so no new session appears between the terminate and the DROP */
    char *sql = cb_sprintf("ALTER ROLE %s NOLOGIN", id);
    int rc = exec_cmd(c, sql, e);
    free(sql);
    int n = 0;
    if (!rc) rc = pg_terminate(c, login, &n, e);
    /* the login should own nothing; REASSIGN/DROP OWNED (per database: this one) only
     * when it does, since they need the admin to have the login's privileges */
    int owns = 0;
    if (!rc) {
        r = PQexecParams(c->pg, "SELECT count(*) FROM pg_catalog.pg_shdepend d JOIN pg_catalog.pg_roles r ON r.oid = d.refobjid"
                                " WHERE r.rolname = $1 AND d.deptype IN ('o', 'a')", 1, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) rc = res_fail(c, r, "lease drop failed", e);
        else { owns = atoi(PQgetvalue(r, 0, 0)) > 0; PQclear(r); }
    }
    if (!rc && owns) {
        sql = cb_sprintf("REASSIGN OWNED BY %s TO CURRENT_USER; DROP OWNED BY %s", id, id);
        rc = exec_cmd(c, sql, e);
        free(sql);
    }
    if (!rc) {
        sql = cb_sprintf("DROP ROLE IF EXISTS %s", id);
        rc = exec_cmd(c, sql, e);
        free(sql);
    }
    PQfreemem(id);
    return rc;
}

static int pg_lease_list(db_conn *c, const char *prefix, json_t **out, cb_error *e)
{
    *out = NULL;
    const char *vals[1] = {prefix ? prefix : ""};
    PGresult *r = PQexecParams(c->pg,
        "SELECT rolname FROM pg_catalog.pg_roles WHERE starts_with(rolname, $1) ORDER BY 1", 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return res_fail(c, r, "lease list failed", e);
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) json_array_append_new(a, json_string(PQgetvalue(r, i, 0)));
    PQclear(r);
    *out = a;
    return 0;
}

const db_target postgres_target = {
    .engine = "postgres",
    .connect = pg_connect,
    .close = pg_close,
    .set_password = pg_set_password,
    .test_login = pg_test_login,
    .terminate_sessions = pg_terminate,
    .lock = pg_lock,
    .unlock = pg_unlock,
    .query_readonly = pg_query_ro,
    .query_execute = pg_query_exec,
    .describe_schema = pg_describe,
    .server_version = pg_server_version,
    .lease_create = pg_lease_create,
    .lease_renew = pg_lease_renew,
    .lease_drop = pg_lease_drop,
    .lease_list = pg_lease_list,
};

