/* The PostgreSQL store backend (backend.h) on libpq, for a fleet of brokers sharing one
 * store. It keeps sqlite.c's meaning so the code above runs unchanged:
 *  - '?'/'?N' placeholders become $N; values are copied at bind; blobs go as binary bytea;
 *  - step runs the statement on its first call, then yields one row per call;
 *  - a failed statement inside a transaction leaves the transaction usable (SQLite undoes
 *    only the statement): each statement in a transaction runs under a savepoint;
 *  - begin_write = BEGIN + a transaction advisory lock on a key of the schema, so writers
 *    of one store serialize across brokers as BEGIN IMMEDIATE does within a host;
 *  - try_lock (leadership) = a session advisory lock, held only as long as the session
 *    that took it: a silent reconnection is a new session without it;
 *  - data_version counts NOTIFYs that the schema's triggers send on committed changes of
 *    API keys, leases and the key version (a server drops its caches on a change).
 * Error messages carry PostgreSQL's primary message only: DETAIL can quote row values. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "postgres_sql.h"
#include "secrets/secret_provider.h"
#include "util.h"

#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25

typedef struct {
    sdb base;
    PGconn *c;
    char schema[PGSQL_SCHEMA_MAX + 1];
    int64_t lock_key;
    int err;              /* SDB_* of the last call */
    char msg[512];
    int changes;
    int64_t notes;        /* notifications received (and reconnections) */
    int flags;            /* SDB_OPEN_* */
    int listening;        /* LISTEN issued (on the first data_version call) */
    int64_t session;      /* bumped by every (re)connection: a session lock lives in one */
    struct { char name[32]; int64_t key, session; } locks[4];   /* leadership locks taken */
} pg;

typedef struct {
    sdb_stmt base;
    char *sql;
    int np;
    char **vals;
    unsigned char *used;  /* per parameter: named in the SQL */
    int *lens, *fmts;
    Oid *types;
    PGresult *res;
    int ran, row, nrows, ncols;
    unsigned char **dec;   /* decoded bytea of the current row, per column */
    size_t *declen;
} pg_stmt;

#define P(db) ((pg *)(db))
#define T(st) ((pg_stmt *)(st))

static void set_err(pg *d, int code, const char *prefix, const char *msg)
{
    d->err = code;
    snprintf(d->msg, sizeof d->msg, "%s%s", prefix, msg ? msg : "");
    /* libpq messages end in a newline; keep one line */
    char *nl = strchr(d->msg, '\n');
    if (nl) *nl = 0;
}

/* SQLSTATE -> SDB code: integrity violations are constraints, serialization failures,
 * deadlocks and lock timeouts are "busy" (try again), a lost connection is an error. */
static int map_state(const char *st)
{
    if (!st) return SDB_ERROR;
    if (!strncmp(st, "23", 2)) return SDB_CONSTRAINT;
    if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03"))
        return SDB_BUSY;
    return SDB_ERROR;
}

static void result_err(pg *d, PGresult *r)
{
    if (PQstatus(d->c) == CONNECTION_BAD) {
        set_err(d, SDB_ERROR, "lost the connection to the store database: ", PQerrorMessage(d->c));
        return;
    }
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    set_err(d, map_state(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL), "", m ? m : PQerrorMessage(d->c));
}

/* Counts the notifications libpq has read so far (they arrive with any result), so none
 * pile up in memory on a connection that runs statements for days. */
static void drain(pg *d)
{
    PGnotify *n;
    while ((n = PQnotifies(d->c))) {
        d->notes++;
        PQfreemem(n);
    }
}

/* Runs SQL with no parameters and no rows wanted; SDB_OK or the error's code. */
static int run(pg *d, const char *sql)
{
    PGresult *r = PQexec(d->c, sql);
    ExecStatusType s = PQresultStatus(r);
    int rc = SDB_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        result_err(d, r);
        rc = d->err;
    } else if (!strncasecmp(sql, "COMMIT", 6) && !strcmp(PQcmdStatus(r), "ROLLBACK")) {
        /* PostgreSQL answers COMMIT of a failed transaction with a rollback */
        set_err(d, SDB_ERROR, "", "the transaction failed and was rolled back");
        rc = SDB_ERROR;
    }
    PQclear(r);
    drain(d);
    return rc;
}

static int in_tx(pg *d)
{
    PGTransactionStatusType t = PQtransactionStatus(d->c);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

/* The session's settings, again after a reconnection; data_version then moves, as
 * notifications may have been missed while the connection was down. Only a connection
 * that asks for data_version LISTENs: the others would only queue notifications. */
static int session_setup(pg *d, int flags)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SET search_path = \"%s\"; SET lock_timeout = '5s'; SET client_min_messages = warning; %s%s%s%s",
             d->schema, (flags & SDB_OPEN_READONLY) ? "SET default_transaction_read_only = on; " : "",
             d->listening ? "LISTEN \"credbroker_" : "", d->listening ? d->schema : "", d->listening ? "\";" : "");
    d->notes++;
    d->session++;
    return run(d, sql);
}

/* A connection lost between transactions (server restart, failover, an idle timeout) is
 * reopened before the next statement, as SQLite reopens nothing but never loses its file.
 * Reading what is waiting (non-blocking) is how libpq learns the server has gone. Within
 * a transaction a lost connection is an error: the transaction is gone with it. */
static int ensure_conn(pg *d)
{
    /* twice: a server's goodbye (FATAL) and its end of stream may need one read each */
    for (int i = 0; i < 2 && PQstatus(d->c) == CONNECTION_OK && !in_tx(d); i++) PQconsumeInput(d->c);
    if (PQstatus(d->c) == CONNECTION_OK) return SDB_OK;
    PQreset(d->c);
    if (PQstatus(d->c) != CONNECTION_OK) {
        set_err(d, SDB_ERROR, "lost the connection to the store database: ", PQerrorMessage(d->c));
        return SDB_ERROR;
    }
    return session_setup(d, d->flags);
}

/* Server notices (and a FATAL that arrives while idle) are not for the terminal: the
 * error that matters reaches the caller through errmsg. */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void p_close(sdb *db)
{
    if (!db) return;
    PQfinish(P(db)->c);
    free(db);
}

/* The password comes from PGPASSWORD, ~/.pgpass (libpq reads both) or a secret reference
 * in CREDBROKER_DB_REF, fetched here and wiped once libpq has it; never from the URL. */
static int p_open(const char *url, int flags, sdb **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *schema = pgsql_schema();
    if (!pgsql_schema_valid(schema)) {
        snprintf(err, errlen, "CREDBROKER_DB_SCHEMA must be a lower-case identifier ([a-z_][a-z0-9_]*, at most %d "
                 "characters, not pg_*)", PGSQL_SCHEMA_MAX);
        return SDB_ERROR;
    }
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        snprintf(err, errlen, "invalid PostgreSQL URL: %s", perr ? perr : "out of memory");
        PQfreemem(perr);
        return SDB_ERROR;
    }
    int has_pw = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && *o->val) has_pw = 1;
    PQconninfoFree(opts);
    if (has_pw) {
        snprintf(err, errlen, "the store URL contains a password; it would be visible in the process list and "
                 "logs: remove it and use PGPASSWORD, ~/.pgpass or CREDBROKER_DB_REF=<secret reference>");
        return SDB_ERROR;
    }
    secret_value sv = {0};
    const char *ref = getenv("CREDBROKER_DB_REF");
    if (ref && *ref) {
        cb_error fe = {0};
        if (secret_fetch(ref, &sv, &fe)) {
            snprintf(err, errlen, "cannot read the store database password from CREDBROKER_DB_REF: %s", fe.msg);
            return SDB_ERROR;
        }
    }
    /* later keywords override the URL's; earlier ones are defaults it may override */
    const char *kw[] = {"application_name", "connect_timeout", "dbname", sv.value ? "password" : NULL, NULL};
    const char *vv[] = {"credbroker", "10", url, sv.value, NULL};
    PGconn *c = PQconnectdbParams(kw, vv, 1);
    secret_value_free(&sv);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", c ? PQerrorMessage(c) : "out of memory");
        char *nl = strchr(err, '\n');
        if (nl) *nl = 0;
        PQfinish(c);
        return SDB_ERROR;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    pg *d = calloc(1, sizeof *d);
    if (!d) { PQfinish(c); return SDB_ERROR; }
    d->base.ops = &sdb_postgres_ops;
    d->c = c;
    snprintf(d->schema, sizeof d->schema, "%s", schema);
    d->lock_key = pgsql_lock_key(schema, "write");
    d->flags = flags & SDB_OPEN_READONLY;
    int rc = SDB_OK;
    if (flags & SDB_OPEN_CREATE) {
        /* IF NOT EXISTS still needs CREATE on the database: a login that owns an existing
         * schema (made for it by an administrator) must not be asked for more */
        char sql[256];
        snprintf(sql, sizeof sql, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '%s') "
                 "THEN CREATE SCHEMA \"%s\"; END IF; END $$", d->schema, d->schema);
        rc = run(d, sql);
    }
    if (rc == SDB_OK) rc = session_setup(d, flags);
    if (rc != SDB_OK) {
        snprintf(err, errlen, "%s", d->msg);
        p_close(&d->base);
        return rc;
    }
    *out = &d->base;
    return SDB_OK;
}

static int is_tx_control(const char *sql)
{
    while (*sql == ' ' || *sql == '\n' || *sql == '\t') sql++;
    static const char *const kw[] = {"BEGIN", "COMMIT", "ROLLBACK", "END", "SAVEPOINT", "RELEASE", "START"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (!strncasecmp(sql, kw[i], strlen(kw[i]))) return 1;
    return 0;
}

static int p_exec(sdb *db, const char *sql)
{
    pg *d = P(db);
    if (!in_tx(d) && ensure_conn(d) != SDB_OK) return d->err;
    d->err = SDB_OK;
    if (!in_tx(d) || is_tx_control(sql)) return run(d, sql);
    /* in a transaction: one round trip, undone alone on failure */
    size_t n = strlen(sql);
    char *w = malloc(n + 64);
    if (!w) return SDB_ERROR;
    snprintf(w, n + 64, "SAVEPOINT sdb_x; %s; RELEASE SAVEPOINT sdb_x", sql);
    int rc = run(d, w);
    free(w);
    if (rc != SDB_OK && PQstatus(d->c) == CONNECTION_OK) {
        int keep = d->err;
        char m[sizeof d->msg];
        memcpy(m, d->msg, sizeof m);
        run(d, "ROLLBACK TO SAVEPOINT sdb_x; RELEASE SAVEPOINT sdb_x");
        d->err = keep;
        memcpy(d->msg, m, sizeof m);
    }
    return rc;
}

static int p_prepare(sdb *db, const char *sql, sdb_stmt **out)
{
    *out = NULL;
    pg_stmt *s = calloc(1, sizeof *s);
    if (!s) return SDB_ERROR;
    s->base.db = db;
    s->sql = pgsql_rewrite(sql, &s->np, &s->used);
    if (!s->sql) {
        free(s);
        set_err(P(db), SDB_ERROR, "", "bad placeholder number in SQL");
        return SDB_ERROR;
    }
    if (s->np) {
        s->vals = calloc((size_t)s->np, sizeof *s->vals);
        s->lens = calloc((size_t)s->np, sizeof *s->lens);
        s->fmts = calloc((size_t)s->np, sizeof *s->fmts);
        s->types = calloc((size_t)s->np, sizeof *s->types);
        if (!s->vals || !s->lens || !s->fmts || !s->types) {
            free(s->vals); free(s->lens); free(s->fmts); free(s->types); free(s->used); free(s->sql); free(s);
            return SDB_ERROR;
        }
    }
    *out = &s->base;
    return SDB_OK;
}

/* Values may be secrets on their way to be sealed or compared: wiped when replaced. */
static int put(pg_stmt *s, int i, const void *v, size_t n, int fmt, Oid type)
{
    if (i < 1 || i > s->np) return SDB_ERROR;
    i--;
    if (s->vals[i]) cb_free_secret_n(s->vals[i], (size_t)s->lens[i] + 1);
    s->vals[i] = NULL;
    s->lens[i] = 0;
    s->fmts[i] = fmt;
    /* a number the SQL skips (SQLite allows it: "VALUES(?1,?2,?4)") must still have a
     * type for PostgreSQL: text */
    s->types[i] = type || s->used[i] ? type : OID_TEXT;
    if (!v) return SDB_OK;
    s->vals[i] = malloc(n + 1);
    if (!s->vals[i]) return SDB_ERROR;
    if (n) memcpy(s->vals[i], v, n);
    s->vals[i][n] = 0;
    s->lens[i] = (int)n;
    return SDB_OK;
}

/* Text goes untyped, as a literal would, so PostgreSQL infers the column's type. */
static int p_bind_text(sdb_stmt *st, int i, const char *v, int n)
{
    return put(T(st), i, v, v ? (n < 0 ? strlen(v) : (size_t)n) : 0, 0, 0);
}

static int p_bind_int64(sdb_stmt *st, int i, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    return put(T(st), i, b, (size_t)n, 0, OID_INT8);
}

static int p_bind_blob(sdb_stmt *st, int i, const void *v, int n)
{
    /* a NULL pointer binds NULL, as in SQLite */
    return put(T(st), i, v, (size_t)(n < 0 ? 0 : n), 1, OID_BYTEA);
}

static int p_bind_null(sdb_stmt *st, int i) { return put(T(st), i, NULL, 0, 0, 0); }

static void clear_row(pg_stmt *s)
{
    if (!s->dec) return;
    for (int i = 0; i < s->ncols; i++) {
        if (s->dec[i]) cb_free_secret_n(s->dec[i], s->declen[i] + 1);
        s->dec[i] = NULL;
    }
}

static void clear_result(pg_stmt *s)
{
    clear_row(s);
    free(s->dec);
    free(s->declen);
    s->dec = NULL;
    s->declen = NULL;
    PQclear(s->res);
    s->res = NULL;
    s->ran = 0;
    s->row = -1;
    s->nrows = s->ncols = 0;
}

static int cmd_changes(PGresult *r)
{
    const char *cs = PQcmdStatus(r);
    if (strncmp(cs, "INSERT", 6) && strncmp(cs, "UPDATE", 6) && strncmp(cs, "DELETE", 6) && strncmp(cs, "MERGE", 5))
        return -1;
    return atoi(PQcmdTuples(r));
}

/* Inside a transaction: SAVEPOINT, the statement and RELEASE in one round trip (libpq's
 * pipeline mode), so the savepoint costs no extra wait on the network. After a failure
 * the pipeline skips the rest, and ROLLBACK TO undoes the statement alone. Returns the
 * statement's result, or NULL with d->err set. */
static PGresult *exec_savepoint(pg *d, pg_stmt *s)
{
    PGconn *c = d->c;
    if (!PQenterPipelineMode(c)) {
        set_err(d, SDB_ERROR, "store database: ", PQerrorMessage(c));
        return NULL;
    }
    int sent = PQsendQueryParams(c, "SAVEPOINT sdb_s", 0, NULL, NULL, NULL, NULL, 0) &&
               PQsendQueryParams(c, s->sql, s->np, s->types, (const char *const *)s->vals, s->lens, s->fmts, 0) &&
               PQsendQueryParams(c, "RELEASE SAVEPOINT sdb_s", 0, NULL, NULL, NULL, NULL, 0) &&
               PQpipelineSync(c);
    PGresult *res[3] = {NULL, NULL, NULL};
    int got = 0, nulls = 0;
    while (sent) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            /* NULL ends each query's results; many in a row mean the connection is gone */
            if (PQstatus(c) != CONNECTION_OK || ++nulls > 8) break;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (got < 3) res[got++] = r;
        else PQclear(r);
    }
    PQexitPipelineMode(c);
    PGresult *bad = NULL;
    for (int i = 0; i < got && !bad; i++) {
        ExecStatusType st = PQresultStatus(res[i]);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) bad = res[i];
    }
    if (!sent || got < 3 || bad) {
        result_err(d, bad);
        if (!sent || (!bad && got < 3)) set_err(d, SDB_ERROR, "store database: ", PQerrorMessage(c));
        int keep = d->err;
        char m[sizeof d->msg];
        memcpy(m, d->msg, sizeof m);
        if (PQstatus(c) == CONNECTION_OK) run(d, "ROLLBACK TO SAVEPOINT sdb_s; RELEASE SAVEPOINT sdb_s");
        d->err = keep;
        memcpy(d->msg, m, sizeof m);
        for (int i = 0; i < got; i++) PQclear(res[i]);
        return NULL;
    }
    PQclear(res[0]);
    PQclear(res[2]);
    return res[1];
}

static int execute(pg *d, pg_stmt *s)
{
    if (!in_tx(d) && ensure_conn(d) != SDB_OK) return d->err;
    /* SQLite undoes a failed statement alone; PostgreSQL would abort the transaction */
    PGresult *r;
    if (PQtransactionStatus(d->c) == PQTRANS_INTRANS) {
        if (!(r = exec_savepoint(d, s))) return d->err;
    } else {
        r = PQexecParams(d->c, s->sql, s->np, s->types, (const char *const *)s->vals, s->lens, s->fmts, 0);
        ExecStatusType rs = PQresultStatus(r);
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
            result_err(d, r);
            PQclear(r);
            return d->err;
        }
    }
    drain(d);
    ExecStatusType rs = PQresultStatus(r);
    int ch = cmd_changes(r);
    if (ch >= 0) d->changes = ch;
    s->res = r;
    s->ran = 1;
    s->row = -1;
    s->nrows = rs == PGRES_TUPLES_OK ? PQntuples(r) : 0;
    s->ncols = rs == PGRES_TUPLES_OK ? PQnfields(r) : 0;
    if (s->ncols) {
        s->dec = calloc((size_t)s->ncols, sizeof *s->dec);
        s->declen = calloc((size_t)s->ncols, sizeof *s->declen);
        if (!s->dec || !s->declen) return SDB_ERROR;
    }
    return SDB_OK;
}

static int p_step(sdb_stmt *st)
{
    pg_stmt *s = T(st);
    pg *d = P(st->db);
    d->err = SDB_OK;
    if (!s->ran) {
        int rc = execute(d, s);
        if (rc != SDB_OK) return rc;
    }
    clear_row(s);
    if (s->row + 1 >= s->nrows) {
        s->row = s->nrows;
        return SDB_DONE;
    }
    s->row++;
    return SDB_ROW;
}

static int p_reset(sdb_stmt *st)
{
    clear_result(T(st));
    return SDB_OK;
}

static void p_finalize(sdb_stmt *st)
{
    pg_stmt *s = T(st);
    clear_result(s);
    for (int i = 0; i < s->np; i++)
        if (s->vals[i]) cb_free_secret_n(s->vals[i], (size_t)s->lens[i] + 1);
    free(s->vals); free(s->lens); free(s->fmts); free(s->types); free(s->used); free(s->sql);
    free(s);
}

static int has_col(pg_stmt *s, int i) { return s->res && s->row >= 0 && s->row < s->nrows && i >= 0 && i < s->ncols; }

static int p_column_type(sdb_stmt *st, int i)
{
    pg_stmt *s = T(st);
    if (!has_col(s, i) || PQgetisnull(s->res, s->row, i)) return SDB_NULL;
    switch (PQftype(s->res, i)) {
    case OID_INT2: case OID_INT4: case OID_INT8: return SDB_INTEGER;
    case OID_BYTEA: return SDB_BLOB;
    default: return SDB_TEXT;
    }
}

/* A bytea column's bytes, decoded once per row (NUL-terminated like SQLite's). */
static const unsigned char *decoded(pg_stmt *s, int i, size_t *len)
{
    if (!s->dec[i]) {
        size_t n = 0;
        unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, i), &n);
        if (!u) return NULL;
        s->dec[i] = malloc(n + 1);
        if (!s->dec[i]) { PQfreemem(u); return NULL; }
        memcpy(s->dec[i], u, n);
        s->dec[i][n] = 0;
        s->declen[i] = n;
        cb_wipe(u, n);
        PQfreemem(u);
    }
    *len = s->declen[i];
    return s->dec[i];
}

static const unsigned char *p_column_text(sdb_stmt *st, int i)
{
    pg_stmt *s = T(st);
    if (!has_col(s, i) || PQgetisnull(s->res, s->row, i)) return NULL;
    if (PQftype(s->res, i) == OID_BYTEA) {
        size_t n;
        return decoded(s, i, &n);
    }
    return (const unsigned char *)PQgetvalue(s->res, s->row, i);
}

static const void *p_column_blob(sdb_stmt *st, int i) { return p_column_text(st, i); }

static int p_column_bytes(sdb_stmt *st, int i)
{
    pg_stmt *s = T(st);
    if (!has_col(s, i) || PQgetisnull(s->res, s->row, i)) return 0;
    if (PQftype(s->res, i) == OID_BYTEA) {
        size_t n = 0;
        return decoded(s, i, &n) ? (int)n : 0;
    }
    return PQgetlength(s->res, s->row, i);
}

/* Like SQLite: a number's text is parsed, anything else is 0; a boolean is 0 or 1. */
static int64_t p_column_int64(sdb_stmt *st, int i)
{
    pg_stmt *s = T(st);
    const char *t = (const char *)p_column_text(st, i);
    if (!t) return 0;
    if (PQftype(s->res, i) == OID_BOOL) return t[0] == 't';
    return strtoll(t, NULL, 10);
}

static int p_changes(sdb *db) { return P(db)->changes; }
static int p_in_transaction(sdb *db) { return in_tx(P(db)); }

static int p_begin_write(sdb *db)
{
    pg *d = P(db);
    if (ensure_conn(d) != SDB_OK) return d->err;
    char sql[128];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", (long long)d->lock_key);
    int rc = run(d, sql);
    if (rc != SDB_OK && in_tx(d)) {
        int keep = d->err;
        run(d, "ROLLBACK");
        d->err = keep;
    }
    return rc;
}

static int p_errcode(sdb *db) { return P(db)->err; }
static const char *p_errmsg(sdb *db) { return P(db)->msg[0] ? P(db)->msg : "not an error"; }

/* Reads what has arrived without waiting (NOTIFYs are delivered only between
 * transactions); the first call starts listening. */
static int64_t p_data_version(sdb *db)
{
    pg *d = P(db);
    if (in_tx(d)) return d->notes;
    if (ensure_conn(d) != SDB_OK) return -1;
    if (!d->listening) {
        char sql[96];
        snprintf(sql, sizeof sql, "LISTEN \"credbroker_%s\"", d->schema);
        if (run(d, sql) != SDB_OK) return -1;
        d->listening = 1;
    }
    if (!PQconsumeInput(d->c)) return -1;
    drain(d);
    return d->notes;
}

/* Leadership (backend.h): a session advisory lock on a key of (schema, "lead:" name). Held
 * means this very session took it and pg_locks still shows it granted to our backend:
 * ensure_conn reopens a lost connection silently, and the new session does not have the
 * lock (another broker may have it by now), so it is taken afresh or reported held by
 * another, never assumed. The key differs from begin_write's, so leading never blocks a
 * writer. */
static int p_try_lock(sdb *db, const char *name)
{
    pg *d = P(db);
    if (in_tx(d) || strlen(name) >= sizeof d->locks[0].name) return -1;
    if (ensure_conn(d) != SDB_OK) return -1;
    char label[48];
    snprintf(label, sizeof label, "lead:%s", name);
    int64_t key = pgsql_lock_key(d->schema, label);
    int slot = -1, free_slot = -1;
    for (int i = 0; i < 4; i++) {
        if (d->locks[i].name[0] && !strcmp(d->locks[i].name, name)) slot = i;
        else if (!d->locks[i].name[0] && free_slot < 0) free_slot = i;
    }
    char sql[256];
    if (slot >= 0 && d->locks[slot].session == d->session) {
        /* an advisory lock on a bigint key: classid = high 32 bits, objid = low, objsubid 1 */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND"
                 " pid = pg_backend_pid() AND objsubid = 1 AND ((classid::int8 << 32) | objid::int8) = %lld",
                 (long long)key);
        PGresult *r = PQexec(d->c, sql);
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK, held = ok && atoi(PQgetvalue(r, 0, 0)) > 0;
        if (!ok) result_err(d, r);
        PQclear(r);
        drain(d);
        if (!ok) return -1;
        if (held) return 1;
    }
    if (slot >= 0) d->locks[slot].name[0] = 0; /* gone with its session */
    else slot = free_slot;
    if (slot < 0) return -1;
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%lld)", (long long)key);
    PGresult *r = PQexec(d->c, sql);
    int rc = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : PQgetvalue(r, 0, 0)[0] == 't';
    if (rc < 0) result_err(d, r);
    PQclear(r);
    drain(d);
    if (rc == 1) {
        snprintf(d->locks[slot].name, sizeof d->locks[slot].name, "%s", name);
        d->locks[slot].key = key;
        d->locks[slot].session = d->session;
    }
    return rc;
}

static void p_unlock(sdb *db, const char *name)
{
    pg *d = P(db);
    for (int i = 0; i < 4; i++)
        if (d->locks[i].name[0] && !strcmp(d->locks[i].name, name)) {
            if (d->locks[i].session == d->session && PQstatus(d->c) == CONNECTION_OK && !in_tx(d)) {
                char sql[96];
                snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", (long long)d->locks[i].key);
                PQclear(PQexec(d->c, sql));
                drain(d);
            }
            d->locks[i].name[0] = 0;
        }
}

const sdb_ops sdb_postgres_ops = {
    .name = "postgresql",
    .kind = SDB_KIND_POSTGRES,
    .open = p_open,
    .close = p_close,
    .exec = p_exec,
    .prepare = p_prepare,
    .bind_text = p_bind_text,
    .bind_int64 = p_bind_int64,
    .bind_blob = p_bind_blob,
    .bind_null = p_bind_null,
    .step = p_step,
    .reset = p_reset,
    .finalize = p_finalize,
    .column_type = p_column_type,
    .column_int64 = p_column_int64,
    .column_text = p_column_text,
    .column_blob = p_column_blob,
    .column_bytes = p_column_bytes,
    .changes = p_changes,
    .in_transaction = p_in_transaction,
    .begin_write = p_begin_write,
    .errcode = p_errcode,
    .errmsg = p_errmsg,
    .data_version = p_data_version,
    .try_lock = p_try_lock,
    .unlock = p_unlock,
};
