/* MySQL / MariaDB db_target over libmariadb.
 * Model-supplied SQL only ever runs as ONE server-side prepared statement (the binary
 * protocol has no multi-statements; CLIENT_MULTI_STATEMENTS is never set; LOAD DATA
 * LOCAL is off), inside START TRANSACTION READ ONLY with the session's default
 * transaction also READ ONLY, under a server-side time limit, and is always rolled back.
 * After every call the session is reset (COM_RESET_CONNECTION): user variables,
 * GET_LOCK locks, temporary tables, prepared statements and session settings do not
 * survive into the next call. A first-word allow-list and a word deny-list are extra
 * layers, not the guard.
 * Passwords are hashed client-side (mysql_native_password: '*' + SHA1(SHA1(pw))) and sent
 * as IDENTIFIED BY PASSWORD '<hash>', because MariaDB's general query log records
 * IDENTIFIED BY '<plaintext>' verbatim. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <mysql.h>
#include <errmsg.h>
#include <openssl/evp.h>
#include "db_target.h"
#include "mysql_target.h"
#include "mysql_internal.h"

int mysql_readonly_prefilter = 1;

/* ---------- errors ---------- */

static int my_fail(cb_error *e, int kind, const char *what, const char *msg, const char *pw)
{
    char *r = conn_redact_text(msg ? msg : "", pw);
    for (char *p = r; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    int rc = cb_fail(e, CB_ERR, kind, "%s: %.400s", what, r);
    cb_free_secret(r);
    return rc;
}

static int classify(unsigned int err)
{
    switch (err) {
    case 1044: case 1045: case 1142: case 1143: case 1227: case 1370: case 1698: case 1792: case 1290:
    case 1211: case 1410: case 1862: case 1820:
        return CB_K_DENIED;
    case 1969: case 3024: /* statement time limit (MariaDB, MySQL) */
        return CB_K_UNAVAILABLE;
    default:
        return err >= 2000 && err < 3000 ? CB_K_UNAVAILABLE : CB_K_INVALID;
    }
}

static int conn_fail(db_conn *c, const char *what, cb_error *e)
{
    return my_fail(e, classify(mysql_errno(c->my)), what, mysql_error(c->my), c->password);
}

static int stmt_fail(db_conn *c, MYSQL_STMT *st, const char *what, cb_error *e)
{
    return my_fail(e, classify(mysql_stmt_errno(st)), what, mysql_stmt_error(st), c->password);
}

/* ---------- connecting ---------- */

/* URL option, else the MYSQL_* environment variable the mysql client also reads. */
static const char *opt(const conn_url *u, const char *key, const char *alt, const char *env)
{
    const char *v = conn_url_param(u, key);
    if (!v && alt) v = conn_url_param(u, alt);
    if (!v && env) v = getenv(env);
    return v && *v ? v : NULL;
}

enum { SSL_DISABLED, SSL_PREFERRED, SSL_REQUIRED, SSL_VERIFY_CA, SSL_VERIFY_IDENTITY };

int mysql_ssl_mode_parse(const char *v)
{
    if (!v) return -1;
    static const char *const names[] = {"DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"};
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(v, names[i])) return i;
    /* libpq spellings people carry over */
    if (!strcasecmp(v, "disable") || !strcasecmp(v, "false")) return SSL_DISABLED;
    if (!strcasecmp(v, "prefer")) return SSL_PREFERRED;
    if (!strcasecmp(v, "require") || !strcasecmp(v, "true")) return SSL_REQUIRED;
    if (!strcasecmp(v, "verify-ca")) return SSL_VERIFY_CA;
    if (!strcasecmp(v, "verify-full")) return SSL_VERIFY_IDENTITY;
    return -1;
}

static int do_connect(const conn_url *url, MYSQL **out, cb_error *e)
{
    *out = NULL;
    MYSQL *my = mysql_init(NULL);
    if (!my) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "out of memory");
    const char *tv = opt(url, "connect-timeout", "connect_timeout", NULL);
    unsigned int timeout = 10;
    if (tv) {
        char *end;
        long t = strtol(tv, &end, 10);
        if (*end || t < 1 || t > 3600) {
            mysql_close(my);
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "connect-timeout must be 1..3600 seconds");
        }
        timeout = (unsigned int)t;
    }
    mysql_optionsv(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    unsigned int off = 0;
    mysql_optionsv(my, MYSQL_OPT_LOCAL_INFILE, &off); /* LOAD DATA LOCAL would read our files */
    my_bool no = 0, yes = 1;
    mysql_optionsv(my, MYSQL_OPT_RECONNECT, &no);     /* a silent reconnect loses the session's guard */
    mysql_optionsv(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");

    const char *mv = opt(url, "ssl-mode", "ssl_mode", "MYSQL_SSL_MODE");
    int mode = mv ? mysql_ssl_mode_parse(mv) : SSL_PREFERRED;
    if (mode < 0) {
        mysql_close(my);
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "ssl-mode must be DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY");
    }
    const char *ca = opt(url, "ssl-ca", "ssl_ca", "MYSQL_SSL_CA"), *cert = opt(url, "ssl-cert", "ssl_cert", "MYSQL_SSL_CERT"),
               *key = opt(url, "ssl-key", "ssl_key", "MYSQL_SSL_KEY");
    if (mode >= SSL_VERIFY_CA && !ca) {
        mysql_close(my);
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "ssl-mode=%s needs ssl-ca=<CA file>", mode == SSL_VERIFY_CA ? "VERIFY_CA" : "VERIFY_IDENTITY");
    }
    if (mode >= SSL_PREFERRED) {
        /* mysql_ssl_set turns TLS on (used when the server offers it); ENFORCE makes it
         * mandatory. Setting ENFORCE to 0 would turn TLS off altogether in libmariadb. */
        mysql_ssl_set(my, key, cert, ca, NULL, NULL);
        if (mode >= SSL_REQUIRED) mysql_optionsv(my, MYSQL_OPT_SSL_ENFORCE, &yes);
        /* libmariadb 3.3 verifies chain and host name together; VERIFY_CA checks the
         * chain (a CA file makes the handshake verify the peer) and not the name. */
        mysql_optionsv(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, mode == SSL_VERIFY_IDENTITY ? &yes : &no);
    }
    unsigned long flags = CLIENT_FOUND_ROWS; /* never CLIENT_MULTI_STATEMENTS / CLIENT_LOCAL_FILES */
    const char *host = url->host && *url->host ? url->host : "localhost";
    const char *sock = NULL;
    if (url->host && url->host[0] == '/') { sock = url->host; host = "localhost"; }
    const char *qs = opt(url, "socket", NULL, NULL);
    if (qs) { sock = qs; host = "localhost"; }
    if (!mysql_real_connect(my, host, url->user, url->password ? url->password : "", url->dbname,
                            (unsigned int)(url->port ? url->port : 0), sock, flags)) {
        int rc = my_fail(e, classify(mysql_errno(my)), "connection failed", mysql_error(my), url->password);
        mysql_close(my);
        return rc;
    }
    if (mode >= SSL_REQUIRED && !mysql_get_ssl_cipher(my)) {
        mysql_close(my);
        return cb_fail(e, CB_ERR, CB_K_DENIED, "connection failed: ssl-mode requires TLS and the connection is not encrypted");
    }
    *out = my;
    return 0;
}

static int my_connect(const conn_url *url, db_conn **out, cb_error *e)
{
    *out = NULL;
    if (!url || !url->engine || strcmp(url->engine, "mysql") != 0)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "not a MySQL/MariaDB connection string");
    MYSQL *my;
    if (do_connect(url, &my, e)) return e->code;
    db_conn *c = cb_calloc(1, sizeof *c);
    c->my = my;
    c->password = cb_strdup(url->password);
    c->url = conn_url_format(url);
    const char *v = mysql_get_server_info(my);
    c->mariadb = v && strstr(v, "MariaDB") != NULL;
    *out = c;
    return 0;
}

static void my_close(db_conn *c)
{
    if (!c) return;
    if (c->my) mysql_close(c->my);
    cb_free_secret(c->password);
    cb_free_secret(c->url);
    free(c);
}

/* A fresh session when the reset failed, so nothing carries into the next call. */
static int reconnect(db_conn *c, cb_error *e)
{
    if (c->my) mysql_close(c->my);
    c->my = NULL;
    conn_url u;
    if (!c->url || conn_url_parse(c->url, "mysql", &u, e)) return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "connection lost");
    int rc = do_connect(&u, &c->my, e);
    conn_url_free(&u);
    return rc;
}

static void session_reset(db_conn *c)
{
    if (c->my && mysql_reset_connection(c->my) == 0) return;
    cb_error ig = {0};
    if (reconnect(c, &ig)) LOG_WARN("mysql: session reset failed and reconnecting failed: %s", ig.msg);
}

int mydb_exec(db_conn *c, const char *sql, cb_error *e)
{
    if (!c->my) return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "connection lost");
    if (mysql_real_query(c->my, sql, strlen(sql))) return conn_fail(c, "query failed", e);
    MYSQL_RES *r = mysql_store_result(c->my);
    if (r) mysql_free_result(r);
    else if (mysql_field_count(c->my)) return conn_fail(c, "query failed", e);
    return 0;
}

/* 'text' as an SQL string literal, escaped for this connection (caller frees). */
char *mydb_quote(db_conn *c, const char *s)
{
    size_t n = strlen(s);
    char *buf = cb_malloc(2 * n + 3);
    buf[0] = '\'';
    unsigned long m = mysql_real_escape_string(c->my, buf + 1, s, (unsigned long)n);
    buf[m + 1] = '\'';
    buf[m + 2] = 0;
    return buf;
}

/* Runs one query of ours with string parameters and returns its rows (text protocol:
 * the parameters are escaped literals). */
int mydb_select(db_conn *c, const char *sql, MYSQL_RES **out, cb_error *e)
{
    *out = NULL;
    if (mysql_real_query(c->my, sql, strlen(sql))) return conn_fail(c, "query failed", e);
    *out = mysql_store_result(c->my);
    if (!*out) return conn_fail(c, "query failed", e);
    return 0;
}

void mysql_native_hash(const char *pw, char out[42])
{
    unsigned char h1[20], h2[20];
    unsigned int n = 0;
    EVP_Digest(pw, strlen(pw), h1, &n, EVP_sha1(), NULL);
    EVP_Digest(h1, sizeof h1, h2, &n, EVP_sha1(), NULL);
    static const char hx[] = "0123456789ABCDEF";
    out[0] = '*';
    for (int i = 0; i < 20; i++) { out[1 + 2 * i] = hx[h2[i] >> 4]; out[2 + 2 * i] = hx[h2[i] & 15]; }
    out[41] = 0;
    cb_wipe(h1, sizeof h1);
    cb_wipe(h2, sizeof h2);
}

int mydb_user_len_ok(db_conn *c, const char *user, cb_error *e)
{
    size_t max = c->mariadb ? MARIADB_USER_MAX : MYSQL_USER_MAX;
    if (strlen(user) > max)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "policy: user name is %zu characters, longer than the server's limit of %zu",
                       strlen(user), max);
    return 0;
}

/* The host part of the account `user` logs in as. The connection's own account when it
 * is that user (self-rotation); else the only account of that name; else, among several
 * accounts, the one whose host pattern this connection's client address matches most
 * specifically (the broker connects from the same address as the login it rotates). */
static int account_host(db_conn *c, const char *user, char **host, int *naccounts, cb_error *e)
{
    *host = NULL;
    *naccounts = 0;
    MYSQL_RES *r;
    if (mydb_select(c, "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1), SUBSTRING_INDEX(CURRENT_USER(), '@', -1),"
                       " SUBSTRING_INDEX(USER(), '@', -1)", &r, e))
        return e->code;
    MYSQL_ROW row = mysql_fetch_row(r);
    char *client = NULL;
    if (row && row[0] && !strcmp(row[0], user) && row[1]) *host = cb_strdup(row[1]);
    if (row && row[2]) client = cb_strdup(row[2]);
    mysql_free_result(r);
    char *qu = mydb_quote(c, user);
    char *qc = mydb_quote(c, client ? client : "");
    /* most specific first: exact host, then patterns by their wildcard-free length, '%' last */
    char *sql = cb_sprintf("SELECT Host, (Host = %s), (%s LIKE Host) FROM mysql.user WHERE User = %s"
                           " ORDER BY (Host = %s) DESC, (%s LIKE Host) DESC, (Host = '%%'), LENGTH(REPLACE(REPLACE(Host, '%%', ''), '_', '')) DESC, Host",
                           qc, qc, qu, qc, qc);
    free(qu);
    free(qc);
    free(client);
    int rc = mydb_select(c, sql, &r, e);
    free(sql);
    if (rc) {
        if (*host) { *naccounts = 1; return 0; } /* no SELECT on mysql.user: the self account is enough */
        return rc;
    }
    *naccounts = (int)mysql_num_rows(r);
    if (!*host) {
        row = mysql_fetch_row(r);
        if (row && row[0] && (*naccounts == 1 || (row[2] && row[2][0] == '1'))) *host = cb_strdup(row[0]);
    }
    mysql_free_result(r);
    if (!*host) {
        if (*naccounts == 0) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no account named %s", user);
        return cb_fail(e, CB_ERR, CB_K_CONFLICT, "%s has %d accounts and none matches this client's address", user, *naccounts);
    }
    return 0;
}

static int my_set_password(db_conn *c, const char *user, const char *pw, const char *old_pw, cb_error *e)
{
    (void)old_pw; /* MariaDB's SET PASSWORD for oneself needs no old password */
    if (!user || !*user || !pw) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "user and password required");
    if (mydb_user_len_ok(c, user, e)) return e->code;
    char *host = NULL;
    int n = 0;
    if (account_host(c, user, &host, &n, e)) return e->code;
    char hash[42];
    mysql_native_hash(pw, hash);
    char *qu = mydb_quote(c, user), *qh = mydb_quote(c, host);
    /* ALTER USER needs CREATE USER; a login changing its own password uses SET PASSWORD,
     * which any account may do. Both only ever carry the hash. */
    MYSQL_RES *r;
    int self = 0;
    if (!mydb_select(c, "SELECT CURRENT_USER()", &r, e)) {
        MYSQL_ROW row = mysql_fetch_row(r);
        char *me = cb_sprintf("%s@%s", user, host);
        self = row && row[0] && !strcmp(row[0], me);
        free(me);
        mysql_free_result(r);
    }
    char *sql = self ? cb_sprintf("SET PASSWORD = '%s'", hash)
                     : cb_sprintf("ALTER USER %s@%s IDENTIFIED BY PASSWORD '%s'", qu, qh, hash);
    cb_wipe(hash, sizeof hash);
    int rc = mydb_exec(c, sql, e);
    cb_free_secret(sql);
    if (rc) cb_error_prefix(e, "%s failed for '%s'@'%s'", self ? "SET PASSWORD" : "ALTER USER", user, host);
    else LOG_INFO("mysql: password of '%s'@'%s' changed (%s; %d account%s named %s)", user, host,
                  self ? "by itself" : "by the admin connection", n, n == 1 ? "" : "s", user);
    free(qu);
    free(qh);
    free(host);
    return rc;
}

static int my_test_login(const conn_url *url, cb_error *e)
{
    db_conn *c = NULL;
    int rc = my_connect(url, &c, e);
    my_close(c);
    return rc;
}

int mydb_kill_sessions(db_conn *c, const char *user, int *count, cb_error *e)
{
    char *qu = mydb_quote(c, user);
    char *sql = cb_sprintf("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s AND ID <> CONNECTION_ID()", qu);
    free(qu);
    MYSQL_RES *r;
    int rc = mydb_select(c, sql, &r, e);
    free(sql);
    if (rc) return rc;
    int n = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        char *end;
        unsigned long long id = strtoull(row[0] ? row[0] : "", &end, 10);
        if (!row[0] || *end) continue;
        char k[64];
        snprintf(k, sizeof k, "KILL CONNECTION %llu", id);
        if (mysql_real_query(c->my, k, strlen(k)) == 0) n++;
        else if (mysql_errno(c->my) != 1094) { /* 1094: unknown thread = ended meanwhile */
            rc = conn_fail(c, "KILL failed", e);
            break;
        }
    }
    mysql_free_result(r);
    if (count) *count = n;
    return rc;
}

static int my_terminate(db_conn *c, const char *user, int *count, cb_error *e)
{
    return mydb_kill_sessions(c, user, count, e);
}

/* GET_LOCK names are limited to 64 characters: "credbroker:" + 40 hex of SHA-256(name). */
static void lock_name(const char *name, char out[52])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(name, strlen(name), md, &n, EVP_sha256(), NULL);
    static const char hx[] = "0123456789abcdef";
    memcpy(out, "credbroker:", 11);
    for (int i = 0; i < 20; i++) { out[11 + 2 * i] = hx[md[i] >> 4]; out[12 + 2 * i] = hx[md[i] & 15]; }
    out[51] = 0;
}

static int lock_call(db_conn *c, const char *fn, const char *name, int *val, cb_error *e)
{
    char ln[52];
    lock_name(name, ln);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s('%s'%s)", fn, ln, strcmp(fn, "GET_LOCK") ? "" : ", 0");
    MYSQL_RES *r;
    if (mydb_select(c, sql, &r, e)) return e->code;
    MYSQL_ROW row = mysql_fetch_row(r);
    *val = row && row[0] ? atoi(row[0]) : -1;
    mysql_free_result(r);
    return 0;
}

static int my_lock(db_conn *c, const char *name, int *acquired, cb_error *e)
{
    int v;
    if (lock_call(c, "GET_LOCK", name, &v, e)) return e->code;
    if (v < 0) return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "GET_LOCK failed");
    *acquired = v == 1;
    return 0;
}

static int my_unlock(db_conn *c, const char *name, cb_error *e)
{
    int v;
    if (lock_call(c, "RELEASE_LOCK", name, &v, e)) return e->code;
    if (v != 1) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "lock was not held");
    return 0;
}

/* ---------- queries ---------- */

static const char *type_name(enum enum_field_types t, unsigned int charsetnr)
{
    int bin = charsetnr == 63;
    switch (t) {
    case MYSQL_TYPE_TINY: return "tinyint";
    case MYSQL_TYPE_SHORT: return "smallint";
    case MYSQL_TYPE_INT24: return "mediumint";
    case MYSQL_TYPE_LONG: return "int";
    case MYSQL_TYPE_LONGLONG: return "bigint";
    case MYSQL_TYPE_YEAR: return "year";
    case MYSQL_TYPE_FLOAT: return "float";
    case MYSQL_TYPE_DOUBLE: return "double";
    case MYSQL_TYPE_DECIMAL: case MYSQL_TYPE_NEWDECIMAL: return "decimal";
    case MYSQL_TYPE_DATE: case MYSQL_TYPE_NEWDATE: return "date";
    case MYSQL_TYPE_TIME: return "time";
    case MYSQL_TYPE_DATETIME: return "datetime";
    case MYSQL_TYPE_TIMESTAMP: return "timestamp";
    case MYSQL_TYPE_BIT: return "bit";
    case MYSQL_TYPE_ENUM: return "enum";
    case MYSQL_TYPE_SET: return "set";
    case MYSQL_TYPE_JSON: return "json";
    case MYSQL_TYPE_GEOMETRY: return "geometry";
    case MYSQL_TYPE_NULL: return "null";
    case MYSQL_TYPE_VARCHAR: case MYSQL_TYPE_VAR_STRING: return bin ? "varbinary" : "varchar";
    case MYSQL_TYPE_STRING: return bin ? "binary" : "char";
    case MYSQL_TYPE_TINY_BLOB: case MYSQL_TYPE_MEDIUM_BLOB: case MYSQL_TYPE_LONG_BLOB: case MYSQL_TYPE_BLOB:
        return bin ? "blob" : "text";
    default: return "";
    }
}

static int is_binary(const MYSQL_FIELD *f)
{
    if (f->charsetnr != 63) return 0;
    switch (f->type) {
    case MYSQL_TYPE_VARCHAR: case MYSQL_TYPE_VAR_STRING: case MYSQL_TYPE_STRING: case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB: case MYSQL_TYPE_LONG_BLOB: case MYSQL_TYPE_BLOB: case MYSQL_TYPE_BIT: case MYSQL_TYPE_GEOMETRY:
        return 1;
    default: return 0;
    }
}

/* A cell as JSON: integers and floats as numbers, binary as "\x<hex>" (like bytea), the
 * rest as text. */
static json_t *cell(const MYSQL_FIELD *f, const char *v, size_t n)
{
    if (is_binary(f)) {
        static const char hx[] = "0123456789abcdef";
        char *s = cb_malloc(2 * n + 3);
        s[0] = '\\'; s[1] = 'x';
        for (size_t i = 0; i < n; i++) { s[2 + 2 * i] = hx[(unsigned char)v[i] >> 4]; s[3 + 2 * i] = hx[(unsigned char)v[i] & 15]; }
        json_t *j = json_stringn(s, 2 * n + 2);
        free(s);
        return j;
    }
    switch (f->type) {
    case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_INT24: case MYSQL_TYPE_LONG: case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR: {
        char buf[32], *end;
        if (n < sizeof buf) {
            memcpy(buf, v, n);
            buf[n] = 0;
            errno = 0;
            long long x = strtoll(buf, &end, 10);
            if (!*end && n && !errno) return json_integer(x);
        }
        break;
    }
    case MYSQL_TYPE_FLOAT: case MYSQL_TYPE_DOUBLE: {
        char buf[64], *end;
        if (n < sizeof buf) {
            memcpy(buf, v, n);
            buf[n] = 0;
            double d = strtod(buf, &end);
            if (!*end && n && strcasecmp(buf, "nan") && strcasecmp(buf, "inf") && strcasecmp(buf, "-inf")) return json_real(d);
        }
        break;
    }
    default: break;
    }
    json_t *s = json_stringn(v, n);
    return s ? s : json_stringn_nocheck(v, n);
}

typedef struct pbind { MYSQL_BIND *b; long long *ints; double *dbls; char **strs; size_t n; } pbind;

static void pbind_free(pbind *p)
{
    for (size_t i = 0; i < p->n; i++) cb_free_secret(p->strs[i]);
    free(p->b); free(p->ints); free(p->dbls); free(p->strs);
    memset(p, 0, sizeof *p);
}

static int bind_params(json_t *params, pbind *p, cb_error *e)
{
    memset(p, 0, sizeof *p);
    if (!params || json_is_null(params)) return 0;
    if (!json_is_array(params)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "params must be a JSON array");
    size_t n = json_array_size(params);
    if (n > 65535) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "too many params");
    p->n = n;
    p->b = cb_calloc(n ? n : 1, sizeof *p->b);
    p->ints = cb_calloc(n ? n : 1, sizeof *p->ints);
    p->dbls = cb_calloc(n ? n : 1, sizeof *p->dbls);
    p->strs = cb_calloc(n ? n : 1, sizeof *p->strs);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(params, i);
        MYSQL_BIND *b = &p->b[i];
        if (json_is_string(x)) {
            p->strs[i] = cb_malloc(json_string_length(x) + 1);
            memcpy(p->strs[i], json_string_value(x), json_string_length(x) + 1);
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = p->strs[i];
            b->buffer_length = (unsigned long)json_string_length(x);
        } else if (json_is_integer(x) || json_is_boolean(x)) {
            p->ints[i] = json_is_integer(x) ? (long long)json_integer_value(x) : json_is_true(x);
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &p->ints[i];
        } else if (json_is_real(x)) {
            p->dbls[i] = json_real_value(x);
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &p->dbls[i];
        } else if (json_is_null(x)) {
            b->buffer_type = MYSQL_TYPE_NULL;
        } else {
            pbind_free(p);
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "param %zu: only strings, numbers, booleans and null can be bound", i + 1);
        }
    }
    return 0;
}

#define CELL_BUF 256

/* Fetches the open statement's rows under the caps: the row and byte caps are checked
 * from each row's column lengths BEFORE a value is copied out or turned into JSON. */
static int fetch_rows(db_conn *c, MYSQL_STMT *st, MYSQL_RES *meta, int max_rows, size_t max_bytes, json_t *cols,
                      json_t *rows, int *nrows, int *truncated, cb_error *e)
{
    unsigned int nf = mysql_num_fields(meta);
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    size_t bytes = 64;
    for (unsigned int i = 0; i < nf; i++) {
        json_array_append_new(cols, json_pack("{s:s,s:s}", "name", f[i].name, "type", type_name(f[i].type, f[i].charsetnr)));
        bytes += strlen(f[i].name) + 32;
    }
    MYSQL_BIND *rb = cb_calloc(nf ? nf : 1, sizeof *rb);
    char *bufs = cb_malloc((size_t)(nf ? nf : 1) * CELL_BUF);
    unsigned long *len = cb_calloc(nf ? nf : 1, sizeof *len);
    my_bool *isnull = cb_calloc(nf ? nf : 1, sizeof *isnull), *err = cb_calloc(nf ? nf : 1, sizeof *err);
    for (unsigned int i = 0; i < nf; i++) {
        rb[i].buffer_type = MYSQL_TYPE_STRING;
        rb[i].buffer = bufs + (size_t)i * CELL_BUF;
        rb[i].buffer_length = CELL_BUF;
        rb[i].length = &len[i];
        rb[i].is_null = &isnull[i];
        rb[i].error = &err[i];
    }
    int rc = 0;
    if (mysql_stmt_bind_result(st, rb)) rc = stmt_fail(c, st, "query failed", e);
    while (!rc) {
        int fr = mysql_stmt_fetch(st);
        if (fr == MYSQL_NO_DATA) break;
        if (fr == 1) { rc = stmt_fail(c, st, "query failed", e); break; }
        if (*nrows >= max_rows) { *truncated = 1; break; }
        size_t need = 2;
        for (unsigned int i = 0; i < nf; i++) need += (isnull[i] ? 4 : (is_binary(&f[i]) ? 2 * (size_t)len[i] + 2 : len[i])) + 4;
        if (bytes + need > max_bytes) { *truncated = 1; break; }
        json_t *row = json_array();
        for (unsigned int i = 0; i < nf && !rc; i++) {
            if (isnull[i]) { json_array_append_new(row, json_null()); continue; }
            if (len[i] <= CELL_BUF) { json_array_append_new(row, cell(&f[i], rb[i].buffer, len[i])); continue; }
            /* longer than the inline buffer: fetch this column whole (already within the cap) */
            char *big = cb_malloc(len[i] + 1);
            unsigned long bl = 0;
            my_bool bn = 0;
            MYSQL_BIND one = {0};
            one.buffer_type = MYSQL_TYPE_STRING;
            one.buffer = big;
            one.buffer_length = len[i] + 1;
            one.length = &bl;
            one.is_null = &bn;
            if (mysql_stmt_fetch_column(st, &one, i, 0)) rc = stmt_fail(c, st, "query failed", e);
            else json_array_append_new(row, cell(&f[i], big, bl < len[i] ? bl : len[i]));
            free(big);
        }
        if (rc) { json_decref(row); break; }
        json_array_append_new(rows, row);
        bytes += need;
        (*nrows)++;
    }
    free(rb); free(bufs); free(len); free(isnull); free(err);
    return rc;
}

static int run_statement(db_conn *c, const char *sql, json_t *params, const db_limits *lim, int readonly,
                         json_t **result, cb_error *e)
{
    *result = NULL;
    if (!sql || !*sql) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty statement");
    if (readonly && mysql_readonly_prefilter && mysql_readonly_check(sql, e)) return CB_EUSAGE;
    if (!c->my && reconnect(c, e)) return e->code;
    pbind pb;
    if (bind_params(params, &pb, e)) return CB_EUSAGE;
    int max_rows = lim && lim->max_rows > 0 ? lim->max_rows : 1000;
    int timeout = lim && lim->statement_timeout_ms > 0 ? lim->statement_timeout_ms : 30000;
    if (timeout > 86400000) timeout = 86400000;
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : (size_t)1 << 20;
    int rc = 0;
    MYSQL_STMT *st = NULL;
    MYSQL_RES *meta = NULL;
    char *text = NULL;

    /* Our own statements. The session default is READ ONLY too, so that even a COMMIT
     * inside the statement leaves every following transaction of this call read-only. */
    if (readonly) {
        if ((rc = mydb_exec(c, "SET SESSION TRANSACTION READ ONLY", e))) goto out;
        if ((rc = mydb_exec(c, "START TRANSACTION READ ONLY", e))) goto out;
    } else if ((rc = mydb_exec(c, "START TRANSACTION", e))) {
        goto out;
    }
    if (c->mariadb) {
        /* a second SET STATEMENT inside the model's text is a syntax error, so the limit holds */
        text = cb_sprintf("SET STATEMENT max_statement_time=%d.%03d FOR %s", timeout / 1000, timeout % 1000, sql);
    } else {
        char set[96];
        snprintf(set, sizeof set, "SET SESSION max_execution_time=%d", timeout);
        if ((rc = mydb_exec(c, set, e))) goto out;
        text = cb_strdup(sql);
    }
    if (!(st = mysql_stmt_init(c->my))) { rc = conn_fail(c, "query failed", e); goto out; }
    /* read-only: a cursor, so rows come in small batches and stopping at a cap needs no
     * drain (it also refuses SELECT ... INTO). query_execute streams without one. */
    if (readonly) {
        unsigned long ct = CURSOR_TYPE_READ_ONLY, pf = 32;
        mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &ct);
        mysql_stmt_attr_set(st, STMT_ATTR_PREFETCH_ROWS, &pf);
    }
    if (mysql_stmt_prepare(st, text, (unsigned long)strlen(text))) { rc = stmt_fail(c, st, "query failed", e); goto out; }
    if (mysql_stmt_param_count(st) != pb.n) {
        rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "statement has %lu placeholders, %zu params given", mysql_stmt_param_count(st), pb.n);
        goto out;
    }
    if (pb.n && mysql_stmt_bind_param(st, pb.b)) { rc = stmt_fail(c, st, "query failed", e); goto out; }
    if (mysql_stmt_execute(st)) { rc = stmt_fail(c, st, "query failed", e); goto out; }
    json_t *cols = json_array(), *rows = json_array();
    int nrows = 0, truncated = 0;
    meta = mysql_stmt_result_metadata(st);
    if (meta) rc = fetch_rows(c, st, meta, max_rows, max_bytes, cols, rows, &nrows, &truncated, e);
    if (rc) { json_decref(cols); json_decref(rows); goto out; }
    *result = json_pack("{s:o,s:o,s:i,s:b}", "columns", cols, "rows", rows, "row_count", nrows, "truncated", truncated);
    if (truncated) json_object_set_new(*result, "limit_rows", json_integer(max_rows));
    if (!readonly && !meta) {
        my_ulonglong a = mysql_stmt_affected_rows(st);
        if (a != (my_ulonglong)-1) json_object_set_new(*result, "affected_rows", json_integer((json_int_t)a));
    }
out:
    if (meta) mysql_free_result(meta);
    if (st) mysql_stmt_close(st);
    cb_free_secret(text);
    if (c->my) {
        if (!rc && !readonly) {
            if ((rc = mydb_exec(c, "COMMIT", e))) { json_decref(*result); *result = NULL; }
        } else {
            mysql_real_query(c->my, "ROLLBACK", 8);
        }
    }
    /* nothing of this call survives: variables, locks, temporary tables, settings */
    session_reset(c);
    pbind_free(&pb);
    return rc;
}

static int my_query_ro(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result, cb_error *e)
{
    return run_statement(c, sql, params, lim, 1, result, e);
}

static int my_query_exec(db_conn *c, const char *sql, json_t *params, const db_limits *lim, json_t **result, cb_error *e)
{
    return run_statement(c, sql, params, lim, 0, result, e);
}

static int my_server_version(db_conn *c, char **out, cb_error *e)
{
    if (!c->my) return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "connection lost");
    const char *v = mysql_get_server_info(c->my);
    if (!v) return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "server version unknown");
    *out = cb_strdup(v);
    return 0;
}

static json_t *table_of(json_t *idx, const char *s, const char *t)
{
    char *k = cb_sprintf("%s\x1f%s", s, t);
    json_t *x = json_object_get(idx, k);
    free(k);
    return x;
}

static int my_describe(db_conn *c, json_t **out, cb_error *e)
{
    *out = NULL;
    MYSQL_RES *r;
    if (mydb_select(c, "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, IF(t.TABLE_TYPE = 'VIEW', 'view', 'table'), c.COLUMN_NAME,"
                       " c.COLUMN_TYPE, c.IS_NULLABLE = 'YES' FROM information_schema.COLUMNS c JOIN information_schema.TABLES t"
                       " ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME WHERE c.TABLE_SCHEMA NOT IN"
                       " ('mysql','information_schema','performance_schema','sys') ORDER BY 1, 2, c.ORDINAL_POSITION", &r, e))
        return e->code;
    json_t *tables = json_array(), *idx = json_object();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        if (!row[0] || !row[1] || !row[3]) continue;
        json_t *tab = table_of(idx, row[0], row[1]);
        if (!tab) {
            tab = json_pack("{s:s,s:s,s:s,s:[],s:[],s:[]}", "schema", row[0], "name", row[1], "kind", row[2] ? row[2] : "table",
                            "columns", "primary_key", "foreign_keys");
            json_array_append_new(tables, tab);
            char *k = cb_sprintf("%s\x1f%s", row[0], row[1]);
            json_object_set(idx, k, tab);
            free(k);
        }
        json_array_append_new(json_object_get(tab, "columns"), json_pack("{s:s,s:s,s:b}", "name", row[3], "type",
                              row[4] ? row[4] : "", "nullable", row[5] && row[5][0] == '1'));
    }
    mysql_free_result(r);
    if (mydb_select(c, "SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA,"
                       " REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE"
                       " TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema','sys') AND"
                       " (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL)"
                       " ORDER BY 1, 2, CONSTRAINT_NAME = 'PRIMARY' DESC, 3, ORDINAL_POSITION", &r, e)) {
        json_decref(tables);
        json_decref(idx);
        return e->code;
    }
    json_t *fk = NULL;
    char *cur = NULL;
    while ((row = mysql_fetch_row(r))) {
        if (!row[0] || !row[1] || !row[2] || !row[3]) continue;
        json_t *tab = table_of(idx, row[0], row[1]);
        if (!tab) continue;
        if (!strcmp(row[2], "PRIMARY")) {
            json_array_append_new(json_object_get(tab, "primary_key"), json_string(row[3]));
            continue;
        }
        char *key = cb_sprintf("%s\x1f%s\x1f%s", row[0], row[1], row[2]);
        if (!cur || strcmp(cur, key)) {
            free(cur);
            cur = key;
            char *ref = cb_sprintf("%s.%s", row[4] ? row[4] : "", row[5] ? row[5] : "");
            fk = json_pack("{s:s,s:[],s:s,s:[]}", "name", row[2], "columns", "references_table", ref, "references_columns");
            free(ref);
            json_array_append_new(json_object_get(tab, "foreign_keys"), fk);
        } else {
            free(key);
        }
        json_array_append_new(json_object_get(fk, "columns"), json_string(row[3]));
        json_array_append_new(json_object_get(fk, "references_columns"), json_string(row[6] ? row[6] : ""));
    }
    free(cur);
    mysql_free_result(r);
    json_decref(idx);
    *out = json_pack("{s:o}", "tables", tables);
    return 0;
}

const db_target mysql_target = {
    .engine = "mysql",
    .connect = my_connect,
    .close = my_close,
    .set_password = my_set_password,
    .test_login = my_test_login,
    .terminate_sessions = my_terminate,
    .lock = my_lock,
    .unlock = my_unlock,
    .query_readonly = my_query_ro,
    .query_execute = my_query_exec,
    .describe_schema = my_describe,
    .server_version = my_server_version,
    .lease_create = my_lease_create,
    .lease_renew = my_lease_renew,
    .lease_drop = my_lease_drop,
    .lease_list = my_lease_list,
};
