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
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <libpq-fe.h>
#include <openssl/sha.h>
#include "db_json.h"
#include "db_target.h"
#include "postgres.h"
#include "postgres_internal.h"
#include "pg_lexer.h"
#include "recv_budget.h"



int pg_readonly_prefilter = 1;

static void quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* notices may quote user data; never print them */
}

/* One-line, sanitized driver message (no password, no URL/conninfo). */
int pg_driver_fail(cb_error *e, int kind, const char *what, const char *msg, const char *pw)
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
    if (!pg) { cb_free_secret(ci); return cb_fail(e, CB_ERR, CB_K_INTERNAL, "out of memory"); }
    if (PQstatus(pg) != CONNECTION_OK) {
        const char *m = PQerrorMessage(pg);
        int rc = pg_driver_fail(e, classify(m), "connection failed", m, url->password);
        PQfinish(pg);
        cb_free_secret(ci);
        return rc;
    }
    PQsetNoticeProcessor(pg, quiet_notices, NULL);
    db_conn *c = cb_calloc(1, sizeof *c);
    c->pg = pg;
    c->password = cb_strdup(url->password);
    c->conninfo = ci;
    *out = c;
    return 0;
}

static void pg_close(db_conn *c)
{
    if (!c) return;
    PQfinish(c->pg);
    cb_free_secret(c->password);
    cb_free_secret(c->conninfo);
    free(c);
}

int pg_res_fail(db_conn *c, PGresult *r, const char *what, cb_error *e)
{
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg);
    if (!m || !*m) m = PQerrorMessage(c->pg);
    int kind = CB_K_INVALID;
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (st && (!strncmp(st, "42501", 5) || !strncmp(st, "28", 2))) kind = CB_K_DENIED;
    else if (st && !strcmp(st, "57014")) kind = CB_K_UNAVAILABLE; /* statement timeout / cancel */
    else if (!r || PQstatus(c->pg) != CONNECTION_OK) kind = CB_K_UNAVAILABLE;
    int rc = pg_driver_fail(e, kind, what, m, c->password);
    PQclear(r);
    return rc;
}

/* Runs one statement of ours (constant text or properly escaped). */
int pg_exec_cmd(db_conn *c, const char *sql, cb_error *e)
{
    pg_settle(c);
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_res_fail(c, r, "query failed", e);
    PQclear(r);
    return 0;
}

static int pg_set_password(db_conn *c, const char *user, const char *pw, const char *old_pw, cb_error *e)
{
    pg_settle(c);
    (void)old_pw; /* a superuser/CREATEROLE admin needs no old password in PostgreSQL */
    if (!user || !*user || !pw) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "user and password required");
    /* NULL algorithm: the server's password_encryption (scram-sha-256 by default) */
    char *hash = PQencryptPasswordConn(c->pg, pw, user, NULL);
    if (!hash) return pg_driver_fail(e, CB_K_UNAVAILABLE, "password hashing failed", PQerrorMessage(c->pg), pw);
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
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return pg_res_fail(c, r, "ALTER ROLE failed", e);
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

int pg_terminate_user(db_conn *c, const char *user, int *count, cb_error *e)
{
    pg_settle(c);
    const char *vals[1] = {user};
    PGresult *r = PQexecParams(c->pg,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
        1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_res_fail(c, r, "terminate failed", e);
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
    pg_settle(c);
    char key[32];
    snprintf(key, sizeof key, "%lld", pg_lock_key(name));
    const char *vals[1] = {key};
    char *sql = cb_sprintf("SELECT pg_catalog.%s($1::bigint)", fn);
    PGresult *r = PQexecParams(c->pg, sql, 1, NULL, vals, NULL, NULL, 0);
    free(sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_res_fail(c, r, "advisory lock failed", e);
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

static void cancel_running(PGconn *pg)
{
    PGcancel *cn = PQgetCancel(pg);
    if (cn) {
        char err[256];
        PQcancel(cn, err, sizeof err);
        PQfreeCancel(cn);
    }
}

/* Ends the session at once: the server rolls the transaction back and forgets every
 * session-level state. Used when what is still in flight must not be received (a value
 * far over the byte cap) or when the session's state is unknown; the next call logs in
 * again (ensure_clean). */
static void drop_session(db_conn *c)
{
    PQfinish(c->pg);
    c->pg = NULL;
}

/* Before a call the session must be idle, healthy and out of pipeline mode; otherwise it
 * is replaced by a fresh login so nothing (an open transaction, a half-read result)
 * carries into the next call. */
static void ensure_clean(db_conn *c)
{
    pg_settle(c);
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE &&
        PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF)
        return;
    PQfinish(c->pg);
    c->pg = PQconnectdb(c->conninfo);
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK) PQsetNoticeProcessor(c->pg, quiet_notices, NULL);
}

/* Receiving with a budget. libpq buffers a whole DataRow before handing it over, so a
 * 40 MB value would be in memory twice before any cap could look at it. Its reads are
 * therefore counted (recv_budget.c) while it takes in input: past hard_cap the rest is
 * never read and the session is dropped. */
typedef struct rx {
    size_t received, hard_cap;
    int64_t deadline_ms;
    int over; /* 1: the hard cap was reached, 2: no answer before the deadline */
} rx;

static PGresult *next_result(db_conn *c, rx *x)
{
    int fd = PQsocket(c->pg);
    while (PQisBusy(c->pg)) {
        if (x->received >= x->hard_cap) { x->over = 1; return NULL; }
        int64_t left = x->deadline_ms - cb_now_ms();
        if (left <= 0) { x->over = 2; return NULL; }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(left > 1000 ? 1000 : left)) <= 0) continue;
        recv_budget_begin(fd, x->hard_cap - x->received);
        int ok = PQconsumeInput(c->pg);
        x->received += recv_budget_end();
        if (!ok) break; /* closed or failed: PQgetResult reports it */
    }
    return PQgetResult(c->pg);
}

/* Reads one of our own pipeline steps to its end; 0 when it succeeded. */
static int read_step(db_conn *c, rx *x, PGresult **err)
{
    int ok = 1, any = 0;
    PGresult *r;
    while ((r = next_result(c, x))) {
        ExecStatusType st = PQresultStatus(r);
        any = 1;
        if (st == PGRES_PIPELINE_SYNC) { PQclear(r); return ok ? 0 : -1; }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            if (ok && err && !*err) *err = r; else PQclear(r);
            ok = 0;
            continue;
        }
        PQclear(r);
    }
    return ok && any && !x->over ? 0 : -1;
}

static int read_sync(db_conn *c, rx *x)
{
    PGresult *r = next_result(c, x);
    int ok = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    return ok ? 0 : -1;
}

/* Time allowed to the server for a ROLLBACK and a DISCARD ALL that were sent with the last
 * call: past it the session is replaced rather than waited for. */
#define PG_SETTLE_MS 10000

void pg_settle(db_conn *c)
{
    int n = c->tail, bad = !c->pg;
    if (!n) return;
    c->tail = 0;
    rx x = {.hard_cap = (size_t)-1, .deadline_ms = cb_now_ms() + PG_SETTLE_MS};
    for (int i = 0; i < n && !bad; i++) bad = read_step(c, &x, NULL) || read_sync(c, &x);
    if (bad || !PQexitPipelineMode(c->pg)) drop_session(c); /* its reset is not known to have run */
}

/* Type names not in the built-in table, asked of the catalog once per session. */
static const char *cached_type(db_conn *c, Oid oid)
{
    for (int i = 0; i < c->ntypes; i++)
        if (c->types[i].oid == oid) return c->types[i].name;
    pg_settle(c); /* the catalog query needs the session out of the pipeline */
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) return "";
    char o[16];
    snprintf(o, sizeof o, "%u", oid);
    const char *v[1] = {o};
    PGresult *r = PQexecParams(c->pg, "SELECT pg_catalog.format_type($1::oid, NULL)", 1, NULL, v, NULL, NULL, 0);
    const char *name = "";
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        int k = c->ntypes < PG_TYPE_CACHE ? c->ntypes++ : (int)(oid % PG_TYPE_CACHE);
        c->types[k].oid = oid;
        snprintf(c->types[k].name, sizeof c->types[k].name, "%s", PQgetvalue(r, 0, 0));
        name = c->types[k].name;
    }
    PQclear(r);
    return name;
}

/* One call's result as it is received: rows go into a json_t array (query_readonly /
 * query_execute) or straight into JSON text (query_json). */
typedef struct qstate {
    int nf;
    char **fname;
    Oid *ftype;
    json_t *rows;     /* json_t mode */
    cb_buf *text;     /* text mode: the rows, comma separated */
    int nrows, max_rows, truncated;
    size_t bytes, max_bytes;
} qstate;

static void text_cell(cb_buf *b, Oid t, const char *v, size_t n, int cut)
{
    switch (cut ? 0 : t) {
    case 16: cb_buf_puts(b, v[0] == 't' ? "true" : "false"); return;
    case 20: case 21: case 23: case 26: case 700: case 701:
        if (db_json_is_number(v, n)) { cb_buf_append(b, v, n); return; }
        break;
    default: break;
    }
    db_json_string(b, v, n);
}

static json_t *json_cell(Oid t, const char *v, size_t n, int cut)
{
    if (!cut) {
        switch (t) {
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
        default: break;
        }
    }
    json_t *s = json_stringn(v, n);
    return s ? s : json_stringn_nocheck(v, n); /* bytea/odd encodings */
}

/* Adds one received row. A value longer than what is left of max_bytes is cut (at a
 * UTF-8 boundary) from its length alone, before any JSON is built; the result is then
 * truncated. Returns 1 when no more rows are wanted. */
static int add_row(qstate *q, PGresult *r, int row)
{
    if (q->nrows >= q->max_rows) { q->truncated = 1; return 1; }
    size_t over = 2 + (size_t)q->nf * 4; /* brackets, quotes, commas: the estimate */
    if (q->bytes + over > q->max_bytes) { q->truncated = 1; return 1; }
    size_t left = q->max_bytes - q->bytes - over, rb = over;
    json_t *jrow = q->rows ? json_array() : NULL;
    if (q->text) cb_buf_puts(q->text, q->nrows ? ",[" : "[");
    for (int i = 0; i < q->nf; i++) {
        int null = PQgetisnull(r, row, i);
        const char *v = PQgetvalue(r, row, i);
        size_t n = (size_t)PQgetlength(r, row, i), k = n;
        if (!null && n > left) {
            k = db_utf8_cut(v, n, left);
            q->truncated = 1;
        }
        left -= null ? 0 : k;
        rb += null ? 0 : k;
        if (q->text) {
            if (i) cb_buf_append(q->text, ",", 1);
            if (null) cb_buf_append(q->text, "null", 4);
            else text_cell(q->text, q->ftype[i], v, k, k != n);
        } else {
            json_array_append_new(jrow, null ? json_null() : json_cell(q->ftype[i], v, k, k != n));
        }
    }
    if (q->text) cb_buf_append(q->text, "]", 1);
    else json_array_append_new(q->rows, jrow);
    q->bytes += rb;
    q->nrows++;
    return q->truncated;
}

/* ---------- session settings (row-level security context) ----------
 * Called inside the transaction, before the model's statement. SET LOCAL (not the
 * set_config() function, so a DBA can REVOKE EXECUTE ON set_config FROM PUBLIC and the
 * model's statement cannot forge the value): transaction-local, so the ROLLBACK ends it
 * and nothing crosses to the next call. Names are custom settings checked by the policy
 * and quoted here part by part; values are escaped literals. Kept apart from
 * run_statement so the pipelined query path can send the same statement. */
/* "SET LOCAL <name> = <literal>" for one session setting (row-level security context).
 * SET LOCAL rather than set_config(): a DBA can then revoke EXECUTE on set_config from
 * PUBLIC so that the model's statement cannot forge the value. malloc'd, NULL on error. */
static char *session_setting_sql(db_conn *c, const char *name, const char *value, cb_error *e)
{
    cb_buf b;
    cb_buf_init(&b, 1);
    cb_buf_append(&b, "SET LOCAL ", 10);
    const char *p = name;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char *q = n ? PQescapeIdentifier(c->pg, p, n) : NULL;
        if (!q) {
            cb_buf_free(&b);
            cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid setting name");
            return NULL;
        }
        cb_buf_append(&b, q, strlen(q));
        PQfreemem(q);
        if (!dot) break;
        cb_buf_append(&b, ".", 1);
        p = dot + 1;
    }
    char *lit = PQescapeLiteral(c->pg, value, strlen(value));
    if (!lit) {
        cb_buf_free(&b);
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid setting value");
        return NULL;
    }
    cb_buf_append(&b, " = ", 3);
    cb_buf_append(&b, lit, strlen(lit));
    PQfreemem(lit);
    return cb_buf_steal(&b);
}

static void cork(PGconn *pg, int on)
{
#ifdef TCP_CORK
    setsockopt(PQsocket(pg), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
#else
    (void)pg, (void)on;
#endif
}

static int run_statement(db_conn *c, const char *sql, json_t *params, const db_limits *lim, int readonly,
                         json_t **result, cb_buf *text, db_query_info *info, cb_error *e)
{
    if (result) *result = NULL;
    if (!sql || !*sql) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty statement");
    /* extra layers for read-only requests; query_execute is gated by policy instead */
    if (readonly && pg_readonly_prefilter && prefilter(sql, e)) return CB_EUSAGE;
    int nparams = 0;
    char **vals = NULL;
    if (pg_bind_params(params, &nparams, &vals, e)) return CB_EUSAGE;
    int max_rows = lim && lim->max_rows > 0 ? lim->max_rows : 1000;
    int timeout = lim && lim->statement_timeout_ms > 0 ? lim->statement_timeout_ms : 30000;
    if (timeout > 86400000) timeout = 86400000; /* a day; keeps timeout + 5000 in range */
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : (size_t)1 << 20;
    int rc = 0, dead = 0;
    PGresult *err = NULL;
    qstate q = {.max_rows = max_rows, .max_bytes = max_bytes, .bytes = 64};
    cb_buf rowsb;
    cb_buf_init(&rowsb, 0);
    if (text) q.text = &rowsb;
    else q.rows = json_array();
    char *cmd_tuples = NULL;
    /* the protocol can carry up to ~2x the JSON size (4-byte lengths of tiny values) */
    rx x = {.hard_cap = 2 * max_bytes + (256u << 10), .deadline_ms = cb_now_ms() + timeout + 10000};

    ensure_clean(c);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) { rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "connection lost"); goto out; }

    /* The whole call is ONE pipeline, one round trip, three syncs:
     *   BEGIN [READ ONLY]; SET LOCAL <limits>; SET LOCAL <session settings>; [SELECT 1;]
     *   <client statement>; SYNC; ROLLBACK (or COMMIT); SYNC; DISCARD ALL; SYNC
     * Our own steps come first and fail closed: if one fails, the server skips everything
     * up to the first sync, the client's statement included. SET LOCAL, not set_config():
     * a DBA may revoke set_config from PUBLIC (so the model cannot forge a row-level
     * security setting) without breaking the broker. The SELECT 1 takes the transaction's
     * first snapshot, so afterwards `SET transaction_read_only = off` fails ("must be set
     * before any query") instead of turning the guard off.
     * The client's statement goes through the extended protocol: one statement only.
     * The first sync ends an error in it, so the second half always runs: ROLLBACK (or
     * COMMIT, which rolls back an aborted transaction), then DISCARD ALL, which leaves
     * nothing behind: session advisory locks, settings, prepared statements, cursors
     * (WITH HOLD too), LISTEN, temp tables. DISCARD ALL may not run in a transaction
     * block; alone between two syncs it is never part of a pipeline's implicit one. */
    char setsql[256];
    snprintf(setsql, sizeof setsql,
             "SET LOCAL statement_timeout = %d", timeout);
    char idlesql[96];
    snprintf(idlesql, sizeof idlesql, "SET LOCAL idle_in_transaction_session_timeout = %d", timeout + 5000);
    /* our own steps: BEGIN, the limits, the session settings, the snapshot (read-only) */
    size_t nset = 0;
    while (lim && lim->session_settings && lim->session_settings[2 * nset] && lim->session_settings[2 * nset + 1]) nset++;
    char **steps = cb_calloc(nset + 5, sizeof *steps);
    size_t nsteps = 0;
    steps[nsteps++] = cb_strdup(readonly ? "BEGIN READ ONLY" : "BEGIN");
    steps[nsteps++] = cb_strdup(setsql);
    steps[nsteps++] = cb_strdup(idlesql);
    for (size_t i = 0; i < nset; i++) {
        char *ss = session_setting_sql(c, lim->session_settings[2 * i], lim->session_settings[2 * i + 1], e);
        if (!ss) {
            rc = CB_EUSAGE;
            for (size_t j = 0; j < nsteps; j++) free(steps[j]);
            free(steps);
            goto out;
        }
        steps[nsteps++] = ss;
    }
    if (readonly) steps[nsteps++] = cb_strdup("SELECT 1");
    /* libpq before 17 flushes at every sync: corked, the three syncs leave in one segment
     * and the server is woken once, not three times (no-op where TCP_CORK is unknown or
     * on a Unix socket) */
    cork(c->pg, 1);
    int sent = PQenterPipelineMode(c->pg);
    for (size_t i = 0; sent && i < nsteps; i++) sent = PQsendQueryParams(c->pg, steps[i], 0, NULL, NULL, NULL, NULL, 0);
    for (size_t j = 0; j < nsteps; j++) free(steps[j]);
    free(steps);
    sent = sent && PQsendQueryParams(c->pg, sql, nparams, NULL, (const char *const *)vals, NULL, NULL, 0) &&
           PQpipelineSync(c->pg) && PQsendQueryParams(c->pg, readonly ? "ROLLBACK" : "COMMIT", 0, NULL, NULL, NULL, NULL, 0) &&
           PQpipelineSync(c->pg) && PQsendQueryParams(c->pg, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0) &&
           PQpipelineSync(c->pg);
    cork(c->pg, 0);
    if (!sent) {
        rc = pg_driver_fail(e, CB_K_UNAVAILABLE, "query failed", PQerrorMessage(c->pg), c->password);
        drop_session(c); /* half a pipeline was sent: never reuse it */
        goto out;
    }
    size_t cap = x.hard_cap;
    x.hard_cap = (size_t)-1;
    int guard_failed = 0;
    for (size_t i = 0; i < nsteps && !guard_failed; i++) guard_failed = read_step(c, &x, &err);
    x.hard_cap = cap;

    /* the client's statement, one row at a time */
    PQsetSingleRowMode(c->pg);
    PGresult *r;
    int want = 1;
    while ((r = next_result(c, &x))) {
        ExecStatusType st = PQresultStatus(r);
        if ((st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) && !q.fname && PQnfields(r) > 0) {
            q.nf = PQnfields(r);
            q.fname = cb_calloc((size_t)q.nf, sizeof *q.fname);
            q.ftype = cb_calloc((size_t)q.nf, sizeof *q.ftype);
            for (int i = 0; i < q.nf; i++) {
                q.fname[i] = cb_strdup(PQfname(r, i));
                q.ftype[i] = PQftype(r, i);
                q.bytes += strlen(q.fname[i]) + 32;
            }
        }
        if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
            for (int i = 0; want && i < PQntuples(r); i++)
                if (add_row(&q, r, i)) {
                    want = 0;
                    cancel_running(c->pg);
                }
        }
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            free(cmd_tuples);
            cmd_tuples = cb_strdup(PQcmdTuples(r));
        } else if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
            const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (!(q.truncated && ss && !strcmp(ss, "57014")) && !rc) {
                rc = pg_res_fail(c, r, "query failed", e);
                continue;
            }
        } else if (st == PGRES_PIPELINE_ABORTED) {
            /* one of our own steps failed: the statement never ran */
            if (!rc) rc = err ? pg_res_fail(c, err, "query failed", e) : pg_driver_fail(e, CB_K_UNAVAILABLE, "query failed", "session setup failed", NULL);
            err = NULL;
        } else if (st != PGRES_SINGLE_TUPLE) { /* COPY, bad response: not in a pipeline */
            if (!rc) rc = cb_fail(e, CB_EUSAGE, CB_K_DENIED, "%s is not supported",
                                  st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH ? "COPY" : "this statement");
            dead = 1;
            PQclear(r);
            break;
        }
        PQclear(r);
    }
    if (guard_failed && !rc) rc = err ? pg_res_fail(c, err, "query failed", e) : cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "query failed: session setup failed");
    err = NULL;
    if (x.over == 1) {
        /* the rest of a value far over the cap is still in flight: never read it */
        q.truncated = 1;
        dead = 1;
        if (!readonly && !rc) /* the COMMIT will never be sent: say so */
            rc = cb_fail(e, CB_ERR, CB_K_INVALID, "the result is far over max_bytes: the statement was rolled back");
    } else if (x.over == 2) {
        dead = 1;
        if (!rc) rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "query failed: no answer within the statement timeout");
    }
    if (!dead) {
        x.hard_cap = (size_t)-1;
        /* end of the first half, then the transaction's end and the reset */
        PGresult *cerr = NULL;
        /* The answer does not wait for the reset: the server runs the ROLLBACK (a read-only
         * call's result cannot depend on it) and DISCARD ALL while the broker audits and
         * answers, and pg_settle reads them before the session's next use, dropping it if
         * one failed. Read now after an error, and after our own cancel, which may hit them. */
        int defer = want && !rc;
        if (read_sync(c, &x)) dead = 1;
        else if (readonly && defer) c->tail = 2;
        else if (read_step(c, &x, &cerr)) {
            dead = 1;
            if (!readonly && !rc) rc = pg_res_fail(c, cerr, "commit failed", e), cerr = NULL;
        } else if (read_sync(c, &x)) dead = 1;
        else if (defer) c->tail = 1;
        else if (read_step(c, &x, NULL) || read_sync(c, &x)) dead = 1; /* the reset failed (e.g. hit by our own cancel): never reuse it */
        PQclear(cerr);
        if (!dead && !c->tail && !PQexitPipelineMode(c->pg)) dead = 1;
    }
    if (dead) drop_session(c);
    if (rc) goto out;

    if (info) {
        info->row_count = q.nrows;
        info->truncated = q.truncated;
        info->affected_rows = !readonly && cmd_tuples && *cmd_tuples ? atoll(cmd_tuples) : (readonly ? -1 : 0);
    }
    if (text) {
        cb_buf_puts(text, "{\"columns\":[");
        for (int i = 0; i < q.nf; i++) {
            const char *tn = pg_type_name(q.ftype[i]);
            cb_buf_puts(text, i ? ",{\"name\":" : "{\"name\":");
            db_json_string(text, q.fname[i], strlen(q.fname[i]));
            cb_buf_puts(text, ",\"type\":");
            if (!tn) tn = cached_type(c, q.ftype[i]);
            db_json_string(text, tn, strlen(tn));
            cb_buf_append(text, "}", 1);
        }
        cb_buf_puts(text, "],\"rows\":[");
        cb_buf_append(text, rowsb.data ? rowsb.data : "", rowsb.len);
        cb_buf_printf(text, "],\"row_count\":%d,\"truncated\":%s", q.nrows, q.truncated ? "true" : "false");
        if (!readonly) cb_buf_printf(text, ",\"affected_rows\":%lld", info ? info->affected_rows : 0);
        cb_buf_append(text, "}", 1);
    } else {
        json_t *cols = json_array();
        for (int i = 0; i < q.nf; i++) {
            const char *tn = pg_type_name(q.ftype[i]);
            json_array_append_new(cols, json_pack("{s:s,s:s}", "name", q.fname[i], "type", tn ? tn : cached_type(c, q.ftype[i])));
        }
        *result = json_pack("{s:o,s:O,s:i,s:b}", "columns", cols, "rows", q.rows, "row_count", q.nrows, "truncated", q.truncated);
        if (q.truncated) json_object_set_new(*result, "limit_rows", json_integer(max_rows));
        if (!readonly && cmd_tuples && *cmd_tuples) json_object_set_new(*result, "affected_rows", json_integer(atoll(cmd_tuples)));
    }
out:
    PQclear(err);
    json_decref(q.rows);
    cb_buf_free(&rowsb);
    for (int i = 0; i < q.nf; i++) free(q.fname[i]);
    free(q.fname);
    free(q.ftype);
    free(cmd_tuples);
    for (int i = 0; i < nparams; i++) cb_free_secret(vals[i]);
    free(vals);
    return rc;
}

static int pg_query_ro(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result, cb_error *e)
{
    return run_statement(c, sql, params, lim, 1, result, NULL, NULL, e);
}

static int pg_query_exec(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result, cb_error *e)
{
    return run_statement(c, sql, params, lim, 0, result, NULL, NULL, e);
}

static int pg_query_json(db_conn *c, const char *sql, json_t *params, const db_limits *lim, int readonly, cb_buf *out,
                         db_query_info *info, cb_error *e)
{
    return run_statement(c, sql, params, lim, readonly, NULL, out, info, e);
}

static int pg_server_version(db_conn *c, char **out, cb_error *e)
{
    pg_settle(c);
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
    ensure_clean(c); /* reads the last call's reset; logs in again if the session was dropped */
    *out = NULL;
    PGresult *r = PQexec(c->pg,
        "SELECT n.nspname, c.relname, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'"
        " WHEN 'f' THEN 'foreign_table' ELSE 'table' END, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
        " NOT a.attnotnull FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE c.relkind IN ('r','p','v','m','f') AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') AND"
        " n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'"
        " AND n.nspname NOT LIKE 'pg\\_temp\\_%' ORDER BY 1, 2, a.attnum");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_res_fail(c, r, "describe failed", e);
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
        return pg_res_fail(c, r, "describe failed", e);
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

const db_target postgres_target = {
    .engine = "postgres",
    .connect = pg_connect,
    .close = pg_close,
    .set_password = pg_set_password,
    .test_login = pg_test_login,
    .terminate_sessions = pg_terminate_user,
    .lock = pg_lock,
    .unlock = pg_unlock,
    .query_readonly = pg_query_ro,
    .query_execute = pg_query_exec,
    .query_json = pg_query_json,
    .describe_schema = pg_describe,
    .server_version = pg_server_version,
    .lease_create = pg_lease_create,
    .lease_renew = pg_lease_renew,
    .lease_drop = pg_lease_drop,
    .lease_list = pg_lease_list,
};

