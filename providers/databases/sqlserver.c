/* SQL Server db_target over FreeTDS db-lib (TDS 7.4).
 * db-lib reports errors through process-wide callbacks; they write into a thread-local
 * capture that each operation sets up, so messages reach the caller's cb_error instead
 * of stderr, with every known secret replaced by "****". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sybfront.h>
#include <sybdb.h>
#include "sqlserver.h"

#define MAX_SECRETS 3

struct db_conn {
    DBPROCESS *dbp;
    char *password;   /* wiped on close: needed only to sanitize messages */
};

typedef struct capture {
    int have, msgno, severity;
    char msg[400];
    const char *secrets[MAX_SECRETS];
} capture;

static _Thread_local capture *cur;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_ok;

/* Copies s into c->msg with every known secret replaced by "****". The whole message is
 * redacted before it is cut to size, so a secret straddling the cut cannot leak a prefix;
 * conn_redact_text withholds a message in which a secret survives replacement. */
static void cap_set(capture *c, const char *s)
{
    char *red = cb_strdup(s ? s : "");
    for (int i = 0; i < MAX_SECRETS; i++) {
        const char *sec = c->secrets[i];
        if (!sec || !*sec) continue;
        char *n = conn_redact_text(red, sec);
        cb_free_secret(red);
        red = n;
    }
    snprintf(c->msg, sizeof c->msg, "%s", red);
    cb_free_secret(red);
    for (char *p = c->msg; *p; p++) if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    c->have = 1;
}

static int msg_handler(DBPROCESS *dbp, DBINT msgno, int state, int severity, char *text, char *srv,
                       char *proc, int line)
{
    (void)dbp; (void)state; (void)srv; (void)proc; (void)line;
    if (!cur || severity <= 10) return 0;   /* informational: 5701 database changed etc. */
    if (cur->have) return 0;   /* the first error is the cause; later ones echo it */
    cur->msgno = msgno;
    cur->severity = severity;
    cap_set(cur, text);
    return 0;
}

static int err_handler(DBPROCESS *dbp, int severity, int dberr, int oserr, char *dberrstr, char *oserrstr)
{
    (void)dbp; (void)oserr; (void)oserrstr;
    if (cur && !cur->have) {
        cur->msgno = dberr;
        cur->severity = severity;
        cap_set(cur, dberrstr);
    }
    return INT_CANCEL;
}

static void lib_init(void)
{
    if (dbinit() == FAIL) return;
    dberrhandle(err_handler);
    dbmsghandle(msg_handler);
    init_ok = 1;
}

static void cap_begin(capture *c, const char *s1, const char *s2, const char *s3)
{
    memset(c, 0, sizeof *c);
    c->secrets[0] = s1;
    c->secrets[1] = s2;
    c->secrets[2] = s3;
    cur = c;
}
static void cap_end(void) { cur = NULL; }

static int kind_for(const capture *c)
{
    switch (c->msgno) {
    case 18456: case 15151: case 229: case 230: case 262: case 297: case 300: case 6102: case 916:
        return CB_K_DENIED;
    case 208: case 2812: case 15007:
        return CB_K_NOTFOUND;
    case 1222: case 1205:
        return CB_K_CONFLICT;
    default:
        return c->msgno >= 20000 ? CB_K_UNAVAILABLE : CB_K_INTERNAL;  /* 20xxx: db-lib errors */
    }
}

static int fail_cap(cb_error *e, const capture *c, const char *what)
{
    if (!c->have) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "sqlserver: %s failed", what);
    return cb_fail(e, CB_ERR, kind_for(c), "sqlserver: %s failed: Msg %d: %s", what, c->msgno, c->msg);
}

/* ---- Result collection ---- */
typedef struct collect {
    json_t *columns, *rows;   /* of the last result set that had columns */
    int max_rows;             /* <= 0: no cap */
    size_t max_bytes, bytes;
    int truncated;
} collect;

static json_t *col_value(DBPROCESS *dbp, int i)
{
    BYTE *data = dbdata(dbp, i);
    DBINT len = dbdatlen(dbp, i);
    if (!data) return json_null();
    int type = dbcoltype(dbp, i);
    switch (type) {
    case SYBINT1: case SYBINT2: case SYBINT4: case SYBINT8: case SYBINTN: {
        DBBIGINT v = 0;
        if (dbconvert(dbp, type, data, len, SYBINT8, (BYTE *)&v, sizeof v) < 0) return json_null();
        return json_integer((json_int_t)v);
    }
    case SYBBIT: case SYBBITN:
        return json_boolean(*data != 0);
    case SYBFLT8: case SYBREAL: case SYBFLTN: {
        DBFLT8 v = 0;
        if (dbconvert(dbp, type, data, len, SYBFLT8, (BYTE *)&v, sizeof v) < 0) return json_null();
        return json_real(v);
    }
    default: {
        /* Strings as UTF-8 (the login asks for it); decimals, dates, binary as text. */
        size_t cap = (size_t)len * 2 + 64;
        char *buf = cb_malloc(cap);
        DBINT n = dbconvert(dbp, type, data, len, SYBCHAR, (BYTE *)buf, (DBINT)(cap - 1));
        json_t *v = n < 0 ? json_null() : json_stringn(buf, (size_t)n);
        free(buf);
        return v ? v : json_string("(invalid UTF-8)");
    }
    }
}

/* Runs one batch and collects rows. sql_secret: wipe db-lib's copy of the command
 * buffer after sending. Returns 0, or -1 with cap holding the first error. */
static int run_batch(DBPROCESS *dbp, const char *sql, int sql_secret, collect *col, capture *cap)
{
    if (dbcmd(dbp, sql) == FAIL) return -1;
    RETCODE rc = dbsqlsend(dbp);
    if (sql_secret) {
        /* db-lib keeps the command text until the next dbcmd; the plaintext password is
         * in it (SQL Server has no client-side hashing). */
        char *b = dbgetchar(dbp, 0);
        int n = dbstrlen(dbp);
        if (b && n > 0) cb_wipe(b, (size_t)n);
    }
    if (rc == FAIL || dbsqlok(dbp) == FAIL) { dbcancel(dbp); return -1; }
    RETCODE r;
    while ((r = dbresults(dbp)) != NO_MORE_RESULTS) {
        if (r == FAIL) {   /* a failed statement; the capture has its message */
            if (DBDEAD(dbp)) break;
            continue;
        }
        int ncols = dbnumcols(dbp);
        if (ncols <= 0) continue;
        if (col) {
            json_decref(col->columns);
            json_decref(col->rows);
            col->columns = json_array();
            col->rows = json_array();
            for (int i = 1; i <= ncols; i++) {
                const char *tn = dbprtype(dbcoltype(dbp, i));
                json_array_append_new(col->columns, json_pack("{s:s,s:s}", "name", dbcolname(dbp, i) ? dbcolname(dbp, i) : "",
                                                                "type", tn ? tn : "unknown"));
            }
        }
        RETCODE nr;
        while ((nr = dbnextrow(dbp)) != NO_MORE_ROWS) {
            if (nr == FAIL) break;
            if (!col) continue;
            if (col->truncated || (col->max_rows > 0 && (int)json_array_size(col->rows) >= col->max_rows)) {
                col->truncated = 1;
                continue;
            }
            json_t *row = json_array();
            for (int i = 1; i <= ncols; i++) json_array_append_new(row, col_value(dbp, i));
            char *s = json_dumps(row, JSON_COMPACT);
            col->bytes += s ? strlen(s) : 0;
            free(s);
            if (col->max_bytes && col->bytes > col->max_bytes) { col->truncated = 1; json_decref(row); continue; }
            json_array_append_new(col->rows, row);
        }
    }
    return cap->have ? -1 : 0;
}

static void collect_free(collect *c) { json_decref(c->columns); json_decref(c->rows); c->columns = c->rows = NULL; }

/* Integer in column 0 of row i of the last result set; -1 if absent. */
static int row_int(const collect *c, size_t i, long long *out)
{
    json_t *row = c->rows ? json_array_get(c->rows, i) : NULL;
    json_t *v = row ? json_array_get(row, 0) : NULL;
    if (!json_is_integer(v)) return -1;
    *out = json_integer_value(v);
    return 0;
}

/* ---- Connection ---- */
static int truthy(const char *v) { return !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "1") || !strcasecmp(v, "mandatory") || !strcasecmp(v, "strict"); }
static int falsy(const char *v) { return !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "0") || !strcasecmp(v, "optional"); }

static const char *param(const conn_url *u, const char *key)
{
    for (size_t i = 0; i < u->nparams; i++)
        if (u->params[i].key && strcasecmp(u->params[i].key, key) == 0) return u->params[i].value;
    return NULL;
}

static int sq_connect(const conn_url *u, db_conn **out, cb_error *e)
{
    *out = NULL;
    pthread_once(&init_once, lib_init);
    if (!init_ok) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "sqlserver: db-lib initialization failed");
    if (!u->host || !*u->host || !u->user || !*u->user || !u->password)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: host, user and password are required");
    if (strpbrk(u->host, ":/\\ ") || strlen(u->host) > 255)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid host name");
    int port = u->port ? u->port : 1433;
    if (port < 1 || port > 65535) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid port");
    LOGINREC *login = dblogin();
    if (!login) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "sqlserver: out of memory");
    DBSETLUSER(login, u->user);
    DBSETLPWD(login, u->password);
    DBSETLAPP(login, "credbroker");
    DBSETLCHARSET(login, "UTF-8");
    DBSETLVERSION(login, DBVERSION_74);
    if (u->dbname && *u->dbname) DBSETLDBNAME(login, u->dbname);
    const char *enc = param(u, "Encrypt");
    if (enc) {
        /* Encrypt=false keeps FreeTDS's default ("request": TLS when the server offers
         * it). FreeTDS 1.3 db-lib leaves DBSETENCRYPT unimplemented (dbsetlbool fails),
         * so a required TLS cannot be set per connection: fail closed rather than
         * connect in clear. TLS policy and certificate checks live in freetds.conf. */
        if (truthy(enc)) {
            if (DBSETLENCRYPT(login, TRUE) == FAIL) {
                dbloginfree(login);
                return cb_fail(e, CB_ERR, CB_K_INVALID,
                               "sqlserver: Encrypt=true cannot be enforced by this FreeTDS db-lib; set "
                               "'encryption = require' in freetds.conf and omit Encrypt");
            }
        } else if (!falsy(enc)) {
            dbloginfree(login);
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid Encrypt value");
        }
    }
    const char *to = param(u, "Connect Timeout");
    if (!to) to = param(u, "ConnectTimeout");
    if (!to) to = param(u, "connect_timeout");
    if (to) {
        char *end;
        long s = strtol(to, &end, 10);
        if (*end || s < 0 || s > 3600) { dbloginfree(login); return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid Connect Timeout"); }
        dbsetlogintime((int)s);   /* process-wide in db-lib */
    } else {
        dbsetlogintime(15);
    }
    char server[300];
    snprintf(server, sizeof server, "%s:%d", u->host, port);
    capture cap;
    cap_begin(&cap, u->password, NULL, NULL);
    DBPROCESS *dbp = dbopen(login, server);
    dbloginfree(login);
    cap_end();
    if (!dbp) {
        cb_fail(e, CB_ERR, cap.msgno == 18456 ? CB_K_DENIED : (cap.have ? kind_for(&cap) : CB_K_UNAVAILABLE),
                "sqlserver: connect to %s failed%s%s", server, cap.have ? ": " : "", cap.have ? cap.msg : "");
        return e ? e->code : CB_ERR;
    }
    db_conn *c = cb_calloc(1, sizeof *c);
    c->dbp = dbp;
    c->password = cb_strdup(u->password);
    *out = c;
    return CB_OK;
}

static void sq_close(db_conn *c)
{
    if (!c) return;
    if (c->dbp) dbclose(c->dbp);
    cb_free_secret(c->password);
    free(c);
}

static int sq_test_login(const conn_url *u, cb_error *e)
{
    db_conn *c;
    int rc = sq_connect(u, &c, e);
    if (rc) return rc;
    sq_close(c);
    return CB_OK;
}

static int sq_set_password(db_conn *c, const char *user, const char *new_password, const char *old_password,
                           cb_error *e)
{
    if (!new_password || !*new_password || strlen(new_password) > 128)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: the new password must be 1 to 128 characters");
    if (old_password && strlen(old_password) > 128)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: the old password is too long");
    char *id = sqlserver_quote_ident(user);
    if (!id) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid login name");
    char *np = sqlserver_quote_nstring(new_password), *op = old_password ? sqlserver_quote_nstring(old_password) : NULL;
    cb_buf sql;
    cb_buf_init(&sql, 1);
    /* OLD_PASSWORD belongs to the PASSWORD option (no comma in the grammar). */
    cb_buf_printf(&sql, "ALTER LOGIN %s WITH PASSWORD = %s", id, np);
    if (op) cb_buf_printf(&sql, " OLD_PASSWORD = %s", op);
    cb_free_secret(np);
    cb_free_secret(op);
    capture cap;
    cap_begin(&cap, new_password, old_password, c->password);
    int r = run_batch(c->dbp, sql.data, 1, NULL, &cap);
    cap_end();
    cb_buf_free(&sql);
    int rc = CB_OK;
    if (r) {
        char what[200];
        snprintf(what, sizeof what, "password change of %.128s", id);
        rc = fail_cap(e, &cap, what);
    }
    free(id);
    return rc;
}

static int sq_terminate(db_conn *c, const char *user, int *count, cb_error *e)
{
    *count = 0;
    char *lit = sqlserver_quote_nstring(user);
    if (!user || !*user || strlen(user) > 512) { free(lit); return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid login name"); }
    char *sql = cb_sprintf("SELECT session_id FROM sys.dm_exec_sessions WHERE login_name = %s AND session_id <> @@SPID", lit);
    free(lit);
    collect col = {0};
    capture cap;
    cap_begin(&cap, c->password, NULL, NULL);
    int r = run_batch(c->dbp, sql, 0, &col, &cap);
    free(sql);
    if (r) { cap_end(); collect_free(&col); return fail_cap(e, &cap, "listing sessions"); }
    size_t n = col.rows ? json_array_size(col.rows) : 0;
    int rc = CB_OK;
    for (size_t i = 0; i < n; i++) {
        long long spid;
        if (row_int(&col, i, &spid) || spid <= 0 || spid > 32767) continue;
        char kill[32];
        snprintf(kill, sizeof kill, "KILL %lld", spid);
        cap_begin(&cap, c->password, NULL, NULL);
        if (run_batch(c->dbp, kill, 0, NULL, &cap) == 0) { (*count)++; continue; }
        if (cap.msgno == 6106) continue;   /* the session ended on its own meanwhile */
        rc = fail_cap(e, &cap, "KILL");
        break;
    }
    cap_end();
    collect_free(&col);
    return rc;
}

/* Runs DECLARE @r int; EXEC @r = proc ...; SELECT @r and returns @r in *ret. */
static int applock_call(db_conn *c, const char *proc, const char *name, const char *extra, long long *ret,
                        capture *cap)
{
    char *lit = sqlserver_quote_nstring(name);
    char *sql = cb_sprintf("DECLARE @r int; EXEC @r = %s @Resource = %s, %s@LockOwner = 'Session'%s; SELECT @r",
                           proc, lit, extra, strcmp(proc, "sp_getapplock") == 0 ? ", @LockTimeout = 0" : "");
    free(lit);
    collect col = {0};
    cap_begin(cap, c->password, NULL, NULL);
    int r = run_batch(c->dbp, sql, 0, &col, cap);
    cap_end();
    free(sql);
    if (r == 0 && row_int(&col, 0, ret)) r = -1;
    collect_free(&col);
    return r;
}

static int check_lock_name(const char *name, cb_error *e)
{
    if (!name || !*name || strlen(name) > 255)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: lock name must be 1 to 255 characters");
    return CB_OK;
}

static int sq_lock(db_conn *c, const char *name, int *acquired, cb_error *e)
{
    *acquired = 0;
    if (check_lock_name(name, e)) return e ? e->code : CB_EUSAGE;
    long long ret = 0;
    capture cap;
    if (applock_call(c, "sp_getapplock", name, "@LockMode = 'Exclusive', ", &ret, &cap)) return fail_cap(e, &cap, "sp_getapplock");
    /* 0 granted, 1 granted after waiting, -1 timed out, -2 cancelled, -3 deadlock
     * victim, -999 parameter or other error. */
    if (ret >= 0) { *acquired = 1; return CB_OK; }
    if (ret == -1) return CB_OK;
    return cb_fail(e, CB_ERR, CB_K_CONFLICT, "sqlserver: sp_getapplock returned %lld", ret);
}

static int sq_unlock(db_conn *c, const char *name, cb_error *e)
{
    if (check_lock_name(name, e)) return e ? e->code : CB_EUSAGE;
    long long ret = 0;
    capture cap;
    if (applock_call(c, "sp_releaseapplock", name, "", &ret, &cap)) {
        if (cap.msgno == 1223) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "sqlserver: lock is not held by this session");
        return fail_cap(e, &cap, "sp_releaseapplock");
    }
    if (ret != 0) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "sqlserver: sp_releaseapplock returned %lld", ret);
    return CB_OK;
}

static void set_timeout(db_conn *c, const db_limits *lim)
{
    if (!lim || lim->statement_timeout_ms <= 0) return;
    char secs[16];
    snprintf(secs, sizeof secs, "%d", (lim->statement_timeout_ms + 999) / 1000);
    dbsetopt(c->dbp, DBSETTIME, secs, 0);   /* per connection query timeout */
}

static int run_query(db_conn *c, const char *sql, const db_limits *lim, json_t **result, cb_error *e)
{
    collect col = {0};
    col.max_rows = lim && lim->max_rows > 0 ? lim->max_rows : 0;
    col.max_bytes = lim && lim->max_bytes ? lim->max_bytes : (size_t)1 << 20;
    capture cap;
    cap_begin(&cap, c->password, NULL, NULL);
    set_timeout(c, lim);
    int r = run_batch(c->dbp, sql, 0, &col, &cap);
    cap_end();
    if (r) { collect_free(&col); return fail_cap(e, &cap, "query"); }
    json_t *res = json_object();
    json_object_set_new(res, "columns", col.columns ? col.columns : json_array());
    json_object_set_new(res, "rows", col.rows ? col.rows : json_array());
    json_object_set_new(res, "row_count", json_integer((json_int_t)(col.rows ? json_array_size(col.rows) : 0)));
    json_object_set_new(res, "truncated", json_boolean(col.truncated));
    *result = res;
    return CB_OK;
}

static int no_params(json_t *params, cb_error *e)
{
    if (params && !(json_is_array(params) && json_array_size(params) == 0))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: bound parameters are not supported; write literals in the SELECT");
    return CB_OK;
}

/* session_settings (row-level security context) are not implemented here: refuse rather
 * than run the statement without the context the policy asked for (fail closed). */
static int no_settings(const db_limits *lim, cb_error *e)
{
    if (lim && lim->session_settings && lim->session_settings[0])
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: session_settings are not supported on SQL Server connections");
    return CB_OK;
}

static int sq_query_readonly(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result,
                             cb_error *e)
{
    *result = NULL;
    char why[160];
    if (sqlserver_readonly_check(sql, why, sizeof why))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: refused: %s", why);
    if (no_params(params, e)) return e ? e->code : CB_EUSAGE;
    if (no_settings(lim, e)) return CB_EUSAGE;
    /* No READ ONLY transaction on SQL Server: the statement runs in a transaction that
     * is always rolled back, with a row cap; the login's rights are the real guard. */
    char pre[128];
    int cap_rows = lim && lim->max_rows > 0 && lim->max_rows < 2000000000 ? lim->max_rows + 1 : 0;
    snprintf(pre, sizeof pre, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; SET ROWCOUNT %d; BEGIN TRANSACTION", cap_rows);
    capture cap;
    cap_begin(&cap, c->password, NULL, NULL);
    int r = run_batch(c->dbp, pre, 0, NULL, &cap);
    cap_end();
    if (r) return fail_cap(e, &cap, "starting the read-only transaction");
    int rc = run_query(c, sql, lim, result, e);
    cap_begin(&cap, c->password, NULL, NULL);
    r = run_batch(c->dbp, "SET ROWCOUNT 0; IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION", 0, NULL, &cap);
    cap_end();
    if (r && rc == CB_OK) {
        json_decref(*result);
        *result = NULL;
        return fail_cap(e, &cap, "rollback");
    }
    return rc;
}

static int sq_query_execute(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result,
                            cb_error *e)
{
    *result = NULL;
    if (!sql || !*sql) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: empty statement");
    if (no_params(params, e)) return e ? e->code : CB_EUSAGE;
    if (no_settings(lim, e)) return CB_EUSAGE;
    return run_query(c, sql, lim, result, e);
}

static json_t *table_for(json_t *tables, json_t *index, const char *schema, const char *name)
{
    char *key = cb_sprintf("%s.%s", schema, name);
    json_t *t = json_object_get(index, key);
    if (!t) {
        t = json_pack("{s:s,s:s,s:[],s:[],s:[]}", "schema", schema, "name", name, "columns", "primary_key", "foreign_keys");
        json_array_append_new(tables, t);
        json_object_set(index, key, t);
    }
    free(key);
    return t;
}

static const char *cell(json_t *row, size_t i)
{
    const char *s = json_string_value(json_array_get(row, i));
    return s ? s : "";
}

static int sq_describe_schema(db_conn *c, json_t **out, cb_error *e)
{
    static const char *const q_cols =
        "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.IS_NULLABLE "
        "FROM INFORMATION_SCHEMA.COLUMNS c JOIN INFORMATION_SCHEMA.TABLES t "
        "ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME "
        "WHERE t.TABLE_TYPE = 'BASE TABLE' ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION";
    static const char *const q_pk =
        "SELECT tc.TABLE_SCHEMA, tc.TABLE_NAME, k.COLUMN_NAME "
        "FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS tc JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE k "
        "ON k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME "
        "WHERE tc.CONSTRAINT_TYPE = 'PRIMARY KEY' ORDER BY tc.TABLE_SCHEMA, tc.TABLE_NAME, k.ORDINAL_POSITION";
    static const char *const q_fk =
        "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, r.TABLE_NAME AS REF_TABLE, "
        "r.COLUMN_NAME AS REF_COLUMN "
        "FROM INFORMATION_SCHEMA.REFERENTIAL_CONSTRAINTS rc "
        "JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA "
        "AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME "
        "JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE r ON r.CONSTRAINT_SCHEMA = rc.UNIQUE_CONSTRAINT_SCHEMA "
        "AND r.CONSTRAINT_NAME = rc.UNIQUE_CONSTRAINT_NAME AND r.ORDINAL_POSITION = k.ORDINAL_POSITION "
        "ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION";
    *out = NULL;
    db_limits lim = {.max_rows = 100000, .max_bytes = (size_t)16 << 20};
    json_t *rc_cols = NULL, *rc_pk = NULL, *rc_fk = NULL;
    int rc;
    if ((rc = run_query(c, q_cols, &lim, &rc_cols, e)) || (rc = run_query(c, q_pk, &lim, &rc_pk, e)) ||
        (rc = run_query(c, q_fk, &lim, &rc_fk, e))) {
        json_decref(rc_cols); json_decref(rc_pk); json_decref(rc_fk);
        return rc;
    }
    json_t *tables = json_array(), *index = json_object(), *row;
    size_t i;
    json_array_foreach(json_object_get(rc_cols, "rows"), i, row) {
        json_t *t = table_for(tables, index, cell(row, 0), cell(row, 1));
        json_array_append_new(json_object_get(t, "columns"),
                              json_pack("{s:s,s:s,s:b}", "name", cell(row, 2), "type", cell(row, 3), "nullable",
                                        strcasecmp(cell(row, 4), "YES") == 0));
    }
    json_array_foreach(json_object_get(rc_pk, "rows"), i, row) {
        json_t *t = table_for(tables, index, cell(row, 0), cell(row, 1));
        json_array_append_new(json_object_get(t, "primary_key"), json_string(cell(row, 2)));
    }
    /* One foreign key per constraint name, columns in ordinal order. */
    json_t *fk_index = json_object();
    json_array_foreach(json_object_get(rc_fk, "rows"), i, row) {
        json_t *t = table_for(tables, index, cell(row, 0), cell(row, 1));
        char *key = cb_sprintf("%s.%s.%s", cell(row, 0), cell(row, 1), cell(row, 2));
        json_t *fk = json_object_get(fk_index, key);
        if (!fk) {
            fk = json_pack("{s:[],s:s,s:[]}", "columns", "references_table", cell(row, 4), "references_columns");
            json_array_append_new(json_object_get(t, "foreign_keys"), fk);
            json_object_set(fk_index, key, fk);
        }
        free(key);
        json_array_append_new(json_object_get(fk, "columns"), json_string(cell(row, 3)));
        json_array_append_new(json_object_get(fk, "references_columns"), json_string(cell(row, 5)));
    }
    json_decref(fk_index);
    json_decref(index);
    json_decref(rc_cols); json_decref(rc_pk); json_decref(rc_fk);
    *out = json_pack("{s:o}", "tables", tables);
    return CB_OK;
}

static int sq_server_version(db_conn *c, char **out, cb_error *e)
{
    *out = NULL;
    db_limits lim = {.max_rows = 1};
    json_t *res = NULL;
    int rc = run_query(c, "SELECT @@VERSION", &lim, &res, e);
    if (rc) return rc;
    const char *v = json_string_value(json_array_get(json_array_get(json_object_get(res, "rows"), 0), 0));
    if (v) *out = cb_strdup(v);
    json_decref(res);
    return v ? CB_OK : cb_fail(e, CB_ERR, CB_K_INTERNAL, "sqlserver: no version returned");
}

/* ---- lease family: per-client query logins ----
 * CREATE LOGIN (SQL Server hashes the password; the batch is marked secret, so it is never
 * logged or echoed by us), CREATE USER in the connection's database, ALTER ROLE ADD
 * MEMBER for each role. SQL Server has no VALID UNTIL and no per-login connection limit:
 * the broker's reaper enforces the expiry (renew is a no-op). */
static int sq_exec(db_conn *c, const char *sql, int secret, const char *pw, const char *what, cb_error *e)
{
    capture cap;
    cap_begin(&cap, c->password, pw, NULL);
    int r = run_batch(c->dbp, sql, secret, NULL, &cap);
    cap_end();
    if (!r) return CB_OK;
    if (cap.msgno == 15151 && !strncmp(what, "drop", 4)) return CB_OK; /* already gone: idempotent */
    return fail_cap(e, &cap, what);
}

static int sq_lease_drop(db_conn *c, const char *login, const char *host, cb_error *e);

static int sq_lease_create(db_conn *c, const db_lease_spec *spec, const char *password, cb_error *e)
{
    if (!spec || !password || !*password || strlen(password) > 128)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: lease: login and a password of 1 to 128 characters required");
    char *id = sqlserver_quote_ident(spec->login);
    if (!id) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid login name");
    char *pw = sqlserver_quote_nstring(password);
    char *sql = cb_sprintf("CREATE LOGIN %s WITH PASSWORD = %s", id, pw);
    cb_free_secret(pw);
    int rc = sq_exec(c, sql, 1, password, "create login", e);
    cb_free_secret(sql);
    if (rc) { /* nothing of ours exists (an existing login is not ours to undo) */
        free(id);
        return rc;
    }
    if (!rc) {
        sql = cb_sprintf("CREATE USER %s FOR LOGIN %s", id, id);
        rc = sq_exec(c, sql, 0, NULL, "create user", e);
        free(sql);
    }
    for (size_t i = 0; !rc && spec->member_of && spec->member_of[i]; i++) {
        char *role = sqlserver_quote_ident(spec->member_of[i]);
        if (!role) { rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid role name"); break; }
        sql = cb_sprintf("ALTER ROLE %s ADD MEMBER %s", role, id);
        rc = sq_exec(c, sql, 0, NULL, "add role member", e);
        free(sql);
        free(role);
    }
    if (rc) { /* no half-made login: undo what this call created */
        cb_error ig = {0};
        sq_lease_drop(c, spec->login, NULL, &ig);
    }
    free(id);
    return rc;
}

static int sq_lease_renew(db_conn *c, const char *login, int64_t valid_until, cb_error *e)
{
    (void)c; (void)login; (void)valid_until; (void)e;
    return CB_OK;
}

static int sq_lease_drop(db_conn *c, const char *login, const char *host, cb_error *e)
{
    (void)host;
    char *id = sqlserver_quote_ident(login);
    if (!id) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlserver: invalid login name");
    int n = 0;
    int rc = sq_terminate(c, login, &n, e); /* a login with sessions cannot be dropped */
    if (!rc) {
        char *sql = cb_sprintf("DROP USER %s", id);
        rc = sq_exec(c, sql, 0, NULL, "drop user", e);
        free(sql);
    }
    if (!rc) {
        /* KILL is asynchronous: a killed session can still count as logged in for a
         * moment (Msg 15434), so the DROP LOGIN is retried for up to 5 s */
        char *sql = cb_sprintf("DROP LOGIN %s", id);
        for (int tries = 0;; tries++) {
            capture cap;
            cap_begin(&cap, c->password, NULL, NULL);
            int r = run_batch(c->dbp, sql, 0, NULL, &cap);
            cap_end();
            if (!r || cap.msgno == 15151) break; /* dropped, or already gone */
            if (cap.msgno != 15434 || tries >= 50) { rc = fail_cap(e, &cap, "drop login"); break; }
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
        }
        free(sql);
    }
    free(id);
    return rc;
}

static int sq_lease_list(db_conn *c, const char *prefix, json_t **out, cb_error *e)
{
    *out = NULL;
    cb_buf pat;
    cb_buf_init(&pat, 0);
    for (const char *p = prefix ? prefix : ""; *p; p++) {
        if (*p == '_' || *p == '%' || *p == '[') cb_buf_printf(&pat, "[%c]", *p); /* LIKE wildcards taken literally */
        else cb_buf_append(&pat, p, 1);
    }
    cb_buf_append(&pat, "%", 1);
    char *lit = sqlserver_quote_nstring(pat.data);
    cb_buf_free(&pat);
    char *sql = cb_sprintf("SELECT name FROM sys.server_principals WHERE name LIKE %s", lit);
    free(lit);
    collect col = {0};
    capture cap;
    cap_begin(&cap, c->password, NULL, NULL);
    int r = run_batch(c->dbp, sql, 0, &col, &cap);
    cap_end();
    free(sql);
    if (r) { collect_free(&col); return fail_cap(e, &cap, "listing logins"); }
    json_t *a = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(col.rows, i, row) {
        json_t *v = json_array_get(row, 0);
        if (json_is_string(v)) json_array_append(a, v);
    }
    collect_free(&col);
    *out = a;
    return CB_OK;
}

const db_target sqlserver_target = {
    .engine = "sqlserver",
    .connect = sq_connect,
    .close = sq_close,
    .set_password = sq_set_password,
    .test_login = sq_test_login,
    .terminate_sessions = sq_terminate,
    .lock = sq_lock,
    .unlock = sq_unlock,
    .query_readonly = sq_query_readonly,
    .query_execute = sq_query_execute,
    .describe_schema = sq_describe_schema,
    .server_version = sq_server_version,
    .lease_create = sq_lease_create,
    .lease_renew = sq_lease_renew,
    .lease_drop = sq_lease_drop,
    .lease_list = sq_lease_list,
};
