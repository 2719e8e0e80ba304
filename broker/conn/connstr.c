/* Connection strings: parse, rewrite, redact (see connstr.h).
 * Formats: URIs (postgres/postgresql/mysql/mssql, sqlserver with userinfo), the JDBC form
 * sqlserver://host[:port];k=v, libpq key=value strings, ADO.NET strings and sqlite paths.
 * Error messages carry positions, never text from the input (it may hold a password). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "connstr.h"


static int bad(cb_error *e, const char *what, size_t pos)
{
    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "%s at position %zu", what, pos);
}

static int has_ctl(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

void conn_url_free(conn_url *u)
{
    if (!u) return;
    free(u->engine);
    free(u->scheme);
    free(u->host);
    free(u->dbname);
    free(u->user);
    cb_free_secret(u->password);
    for (size_t i = 0; i < u->nparams; i++) {
        free(u->params[i].key);
        cb_free_secret(u->params[i].value); /* options may hold secrets (sslpassword) */
    }
    free(u->params);
    memset(u, 0, sizeof *u);
}

const char *conn_url_param(const conn_url *u, const char *key)
{
    for (size_t i = 0; i < u->nparams; i++)
        if (strcasecmp(u->params[i].key, key) == 0) return u->params[i].value;
    return NULL;
}

void conn_url_set_param(conn_url *u, const char *key, const char *value)
{
    for (size_t i = 0; i < u->nparams; i++)
        if (strcasecmp(u->params[i].key, key) == 0) {
            cb_free_secret(u->params[i].value);
            u->params[i].value = cb_strdup(value ? value : "");
            return;
        }
    u->params = cb_realloc(u->params, (u->nparams + 1) * sizeof *u->params);
    u->params[u->nparams].key = cb_strdup(key);
    u->params[u->nparams].value = cb_strdup(value ? value : "");
    u->nparams++;
}

void conn_url_set_password(conn_url *u, const char *password)
{
    cb_free_secret(u->password);
    u->password = cb_strdup(password);
}

void conn_url_set_user(conn_url *u, const char *user)
{
    free(u->user);
    u->user = cb_strdup(user);
}

int conn_default_port(const char *engine)
{
    if (!engine) return 0;
    if (strcmp(engine, "postgres") == 0) return 5432;
    if (strcmp(engine, "sqlserver") == 0) return 1433;
    if (strcmp(engine, "mysql") == 0) return 3306;
    return 0;
}

static const char *norm_engine(const char *h)
{
    if (!h) return NULL;
    if (!strcasecmp(h, "postgres") || !strcasecmp(h, "postgresql") || !strcasecmp(h, "pg")) return "postgres";
    if (!strcasecmp(h, "sqlserver") || !strcasecmp(h, "mssql")) return "sqlserver";
    if (!strcasecmp(h, "mysql") || !strcasecmp(h, "mariadb")) return "mysql";
    if (!strcasecmp(h, "sqlite") || !strcasecmp(h, "sqlite3")) return "sqlite";
    return h;
}

static int parse_port(const char *s, size_t n, int *port, cb_error *e)
{
    if (n == 0) { *port = 0; return 0; } /* libpq: empty port = default */
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]) || i >= 5) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid port");
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid port");
    *port = (int)v;
    return 0;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) as libpq does: "%" must be followed by two hex digits and
 * %00 is refused. base = offset of s in the input, for error positions. */
static char *pct_decode(const char *s, size_t n, size_t base, cb_error *e)
{
    char *o = cb_malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') { o[j++] = s[i]; continue; }
        int a = i + 1 < n ? hexv((unsigned char)s[i + 1]) : -1;
        int b = i + 2 < n ? hexv((unsigned char)s[i + 2]) : -1;
        if (a < 0 || b < 0) {
            cb_free_secret_n(o, n + 1);
            bad(e, "invalid percent-encoding", base + i);
            return NULL;
        }
        if (a == 0 && b == 0) {
            cb_free_secret_n(o, n + 1);
            bad(e, "forbidden %00", base + i);
            return NULL;
        }
        o[j++] = (char)(a * 16 + b);
        i += 2;
    }
    o[j] = 0;
    return o;
}

/* Assigns a well-known key to the struct fields, anything else to params.
 * which: 0 libpq/uri-query names, 1 ADO names, 2 JDBC names. Takes ownership of val. */
static int assign(conn_url *u, const char *key, char *val, int which, cb_error *e)
{
    char **field = NULL;
    if (which == 0) {
        if (!strcmp(key, "host")) field = &u->host;
        else if (!strcmp(key, "dbname") || !strcmp(key, "database")) field = &u->dbname;
        else if (!strcmp(key, "user")) field = &u->user;
        else if (!strcmp(key, "password")) field = &u->password;
        else if (!strcmp(key, "port")) {
            int rc = parse_port(val, strlen(val), &u->port, e);
            free(val);
            return rc;
        }
    } else if (which == 1) {
        if (!strcasecmp(key, "data source") || !strcasecmp(key, "server") || !strcasecmp(key, "address") ||
            !strcasecmp(key, "addr") || !strcasecmp(key, "network address")) {
            /* tcp:host,port  ->  host + port */
            char *h = val;
            if (!strncasecmp(h, "tcp:", 4)) h += 4;
            char *comma = strrchr(h, ',');
            if (comma) {
                char *p = comma + 1;
                while (*p == ' ') p++;
                size_t pl = strlen(p);
                while (pl && p[pl - 1] == ' ') pl--;
                if (!pl || parse_port(p, pl, &u->port, e)) {
                    free(val);
                    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid port");
                }
                *comma = 0;
            }
            free(u->host);
            u->host = *h ? cb_strdup(h) : NULL;
            free(val);
            return 0;
        }
        if (!strcasecmp(key, "initial catalog") || !strcasecmp(key, "database")) field = &u->dbname;
        else if (!strcasecmp(key, "user id") || !strcasecmp(key, "uid") || !strcasecmp(key, "user") ||
                 !strcasecmp(key, "userid") || !strcasecmp(key, "user name") || !strcasecmp(key, "username"))
            field = &u->user;
        else if (!strcasecmp(key, "password") || !strcasecmp(key, "pwd")) field = &u->password;
    } else {
        if (!strcasecmp(key, "serverName")) field = &u->host;
        else if (!strcasecmp(key, "databaseName") || !strcasecmp(key, "database")) field = &u->dbname;
        else if (!strcasecmp(key, "user") || !strcasecmp(key, "userName")) field = &u->user;
        else if (!strcasecmp(key, "password")) field = &u->password;
        else if (!strcasecmp(key, "portNumber") || !strcasecmp(key, "port")) {
            int rc = parse_port(val, strlen(val), &u->port, e);
            free(val);
            return rc;
        }
    }
    if (field) {
        if (field == &u->password) cb_free_secret(*field); else free(*field);
        *field = val;
        return 0;
    }
    conn_url_set_param(u, key, val);
    cb_free_secret(val);
    return 0;
}

/* ---------- URIs ---------- */

/* scheme://[user[:password]@][host|[v6]][:port][/path][?k=v&...]  (libpq's rules: the
 * userinfo ends at the first '@' before any '/'). */
static int parse_uri(const char *s, size_t off, conn_url *u, int instance_path, cb_error *e)
{
    const char *p = s + off;
    const char *at = NULL;
    for (const char *q = p; *q && *q != '/' && *q != '?'; q++)
        if (*q == '@') { at = q; break; }
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (ul) {
            if (!(u->user = pct_decode(p, ul, (size_t)(p - s), e))) return CB_EUSAGE;
        }
        if (colon) {
            if (!(u->password = pct_decode(colon + 1, (size_t)(at - colon - 1), (size_t)(colon + 1 - s), e)))
                return CB_EUSAGE;
        }
        p = at + 1;
    }
    const char *hs, *he;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (!he) return bad(e, "unterminated IPv6 address", (size_t)(p - s));
        if (he == hs) return bad(e, "empty IPv6 address", (size_t)(p - s));
        for (const char *q = hs; q < he; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.' && *q != '%')
                return bad(e, "invalid IPv6 address", (size_t)(q - s));
        p = he + 1;
        if (*p && *p != ':' && *p != '/' && *p != '?')
            return bad(e, "unexpected character after IPv6 address", (size_t)(p - s));
    } else {
        hs = p;
        while (*p && *p != ':' && *p != '/' && *p != '?' && *p != ',') p++;
        he = p;
        if (*p == ',') return bad(e, "multiple hosts are not supported", (size_t)(p - s));
    }
    if (he > hs) {
        free(u->host);
        if (!(u->host = pct_decode(hs, (size_t)(he - hs), (size_t)(hs - s), e))) return CB_EUSAGE;
        if (has_ctl(u->host)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid host");
    }
    if (*p == ':') {
        const char *ps = ++p;
        while (*p && *p != '/' && *p != '?') p++;
        if (*p == ',' || parse_port(ps, (size_t)(p - ps), &u->port, e)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid port");
    }
    if (*p == '/') {
        const char *ds = ++p;
        while (*p && *p != '?') p++;
        if (p > ds) {
            char *d = pct_decode(ds, (size_t)(p - ds), (size_t)(ds - s), e);
            if (!d) return CB_EUSAGE;
            if (instance_path) { conn_url_set_param(u, "instance", d); free(d); }
            else u->dbname = d;
        }
    }
    if (*p == '?') {
        p++;
        while (*p) {
            const char *ks = p;
            while (*p && *p != '&') p++;
            const char *ke = p;
            if (ke > ks) {
                const char *eq = memchr(ks, '=', (size_t)(ke - ks));
                if (!eq) return bad(e, "missing key/value separator \"=\"", (size_t)(ks - s));
                if (memchr(eq + 1, '=', (size_t)(ke - eq - 1)))
                    return bad(e, "extra key/value separator \"=\"", (size_t)(ks - s));
                char *k = pct_decode(ks, (size_t)(eq - ks), (size_t)(ks - s), e);
                if (!k) return CB_EUSAGE;
                char *v = pct_decode(eq + 1, (size_t)(ke - eq - 1), (size_t)(eq + 1 - s), e);
                if (!v) { free(k); return CB_EUSAGE; }
                if (!*k) { free(k); cb_free_secret(v); return bad(e, "empty key", (size_t)(ks - s)); }
                /* libpq: ssl=true is the JDBC spelling of sslmode=require */
                if (!strcmp(u->engine, "postgres") && !strcmp(k, "ssl") && !strcmp(v, "true")) {
                    free(k); free(v);
                    k = cb_strdup("sslmode"); v = cb_strdup("require");
                }
                int rc = assign(u, k, v, 0, e);
                free(k);
                if (rc) return rc;
            }
            if (*p == '&') p++;
        }
    }
    if (*p) return bad(e, "unexpected character", (size_t)(p - s));
    return 0;
}

/* server[\\instance] names: no blanks or syntax characters (they are written back
 * unquoted in front of the properties). */
static int jdbc_name_ok(const char *h, int allow_backslash, int allow_colon)
{
    for (const char *q = h; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f || strchr("@/?{}=;'\"", *q) ||
            (*q == '\\' && !allow_backslash) || (*q == ':' && !allow_colon))
            return 0;
    return 1;
}

/* JDBC values: {braced} values may hold ';', '}}' is a literal '}'. */
static int parse_jdbc(const char *s, size_t off, conn_url *u, cb_error *e)
{
    const char *p = s + off;
    const char *hs = p;
    while (*p && *p != ';' && *p != ':') p++;
    const char *he = p;
    while (hs < he && isspace((unsigned char)*hs)) hs++; /* the driver ignores blanks here */
    while (he > hs && isspace((unsigned char)he[-1])) he--;
    if (he > hs) {
        char *h = cb_strndup(hs, (size_t)(he - hs));
        if (!jdbc_name_ok(h, 1, 0)) { free(h); return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid host"); }
        char *bs = strchr(h, '\\');
        if (bs) { *bs = 0; if (bs[1]) conn_url_set_param(u, "instanceName", bs + 1); }
        if (*h) u->host = h; else free(h);
    }
    if (*p == ':') {
        const char *ps = ++p;
        while (*p && *p != ';') p++;
        if (parse_port(ps, (size_t)(p - ps), &u->port, e)) return CB_EUSAGE;
    }
    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == ';') continue;
        const char *ks = p;
        while (*p && *p != '=' && *p != ';') p++;
        if (*p != '=') return bad(e, "missing \"=\" after key", (size_t)(ks - s));
        size_t kl = (size_t)(p - ks);
        while (kl && (ks[kl - 1] == ' ' || ks[kl - 1] == '\t')) kl--;
        if (!kl) return bad(e, "empty key", (size_t)(ks - s));
        char *k = cb_strndup(ks, kl);
        p++;
        cb_buf v;
        cb_buf_init(&v, 1);
        if (*p == '{') {
            size_t q = (size_t)(p - s);
            p++;
            for (;;) {
                if (!*p) { free(k); cb_buf_free(&v); return bad(e, "unterminated brace", q); }
                if (*p == '}') {
                    if (p[1] == '}') { cb_buf_append(&v, "}", 1); p += 2; continue; }
                    p++;
                    break;
                }
                cb_buf_append(&v, p++, 1);
            }
            while (*p == ' ' || *p == '\t') p++;
            if (*p && *p != ';') { free(k); cb_buf_free(&v); return bad(e, "unexpected character after brace", (size_t)(p - s)); }
        } else {
            const char *vs = p;
            while (*p && *p != ';') p++;
            size_t vl = (size_t)(p - vs);
            while (vl && (vs[vl - 1] == ' ' || vs[vl - 1] == '\t')) vl--;
            cb_buf_append(&v, vs, vl);
        }
        int rc = assign(u, k, cb_buf_steal(&v), 2, e);
        free(k);
        if (rc) return rc;
    }
    if (*p) return bad(e, "unexpected character", (size_t)(p - s));
    /* serverName=... / instanceName=... properties land in the same places */
    const char *in = conn_url_param(u, "instanceName");
    /* an IPv6 serverName property may hold ':' (written back as a property) */
    if ((u->host && !jdbc_name_ok(u->host, 0, 1)) || (in && !jdbc_name_ok(in, 0, 0)))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid host");
    return 0;
}

/* ---------- libpq key=value ---------- */

static int parse_kv(const char *s, conn_url *u, cb_error *e)
{
    const char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *ks = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p)) p++;
        size_t kl = (size_t)(p - ks);
        while (isspace((unsigned char)*p)) p++;
        if (*p != '=' || kl == 0) return bad(e, "missing \"=\" after key", (size_t)(ks - s));
        /* libpq option names are lowercase identifiers; anything else (an ADO/Npgsql
         * "Host=..;Password=.." given as postgres) would swallow the rest into one value */
        for (size_t i = 0; i < kl; i++)
            if (!((ks[i] >= 'a' && ks[i] <= 'z') || ks[i] == '_' || (i && ks[i] >= '0' && ks[i] <= '9')))
                return bad(e, "invalid option name", (size_t)(ks - s));
        p++;
        while (isspace((unsigned char)*p)) p++;
        cb_buf v;
        cb_buf_init(&v, 1);
        if (*p == '\'') {
            size_t q = (size_t)(p - s);
            p++;
            for (;;) {
                if (!*p) { cb_buf_free(&v); return bad(e, "unterminated quote", q); }
                if (*p == '\\') {
                    p++;
                    if (!*p) { cb_buf_free(&v); return bad(e, "unterminated quote", q); }
                    cb_buf_append(&v, p++, 1);
                    continue;
                }
                if (*p == '\'') { p++; break; }
                cb_buf_append(&v, p++, 1);
            }
        } else {
            while (*p && !isspace((unsigned char)*p)) {
                if (*p == '\\') { p++; if (!*p) break; }
                cb_buf_append(&v, p++, 1);
            }
        }
        char *k = cb_strndup(ks, kl);
        int rc = assign(u, k, cb_buf_steal(&v), 0, e);
        free(k);
        if (rc) return rc;
    }
    return 0;
}

/* ---------- ADO.NET ---------- */

static int parse_ado(const char *s, conn_url *u, cb_error *e)
{
    const char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ';') p++;
        if (!*p) break;
        const char *ks = p;
        cb_buf k;
        cb_buf_init(&k, 0);
        for (;;) {
            if (!*p || *p == ';') { cb_buf_free(&k); return bad(e, "missing \"=\" after key", (size_t)(ks - s)); }
            if (*p == '=') {
                if (p[1] == '=') { cb_buf_append(&k, "=", 1); p += 2; continue; } /* "==" is a literal '=' in a key */
                break;
            }
            cb_buf_append(&k, p++, 1);
        }
        p++;
        while (k.len && isspace((unsigned char)k.data[k.len - 1])) k.data[--k.len] = 0;
        if (!k.len) { cb_buf_free(&k); return bad(e, "empty key", (size_t)(ks - s)); }
        while (*p == ' ' || *p == '\t') p++;
        cb_buf v;
        cb_buf_init(&v, 1);
        if (*p == '"' || *p == '\'') {
            char qc = *p;
            size_t q = (size_t)(p - s);
            p++;
            for (;;) {
                if (!*p) { cb_buf_free(&k); cb_buf_free(&v); return bad(e, "unterminated quote", q); }
                if (*p == qc) {
                    if (p[1] == qc) { cb_buf_append(&v, p, 1); p += 2; continue; }
                    p++;
                    break;
                }
                cb_buf_append(&v, p++, 1);
            }
            while (*p == ' ' || *p == '\t') p++;
            if (*p && *p != ';') {
                cb_buf_free(&k); cb_buf_free(&v);
                return bad(e, "unexpected character after quoted value", (size_t)(p - s));
            }
        } else {
            const char *vs = p;
            while (*p && *p != ';') p++;
            size_t vl = (size_t)(p - vs);
            while (vl && isspace((unsigned char)vs[vl - 1])) vl--;
            cb_buf_append(&v, vs, vl);
        }
        int rc = assign(u, k.data, cb_buf_steal(&v), 1, e);
        cb_buf_free(&k);
        if (rc) return rc;
    }
    return 0;
}

/* ---------- detection ---------- */

static int is_libpq_key(const char *k, size_t n)
{
    static const char *const keys[] = {
        "host", "hostaddr", "port", "dbname", "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl",
        "sslpassword", "sslcompression", "sslsni", "sslcrldir", "requiressl", "connect_timeout",
        "application_name", "fallback_application_name", "options", "client_encoding", "passfile",
        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
        "service", "target_session_attrs", "gssencmode", "krbsrvname", "gsslib", "channel_binding",
        "replication", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version",
        "load_balance_hosts", "require_auth", NULL};
    for (size_t i = 0; keys[i]; i++)
        if (strlen(keys[i]) == n && !strncmp(keys[i], k, n)) return 1;
    return 0;
}

/* Decides between libpq key=value (space separated) and ADO (';' separated) from the
 * first pair: its key, then what ends its value. */
static int looks_ado(const char *s)
{
    const char *p = s;
    while (isspace((unsigned char)*p) || *p == ';') p++;
    const char *ks = p;
    while (*p && *p != '=' && *p != ';' && !isspace((unsigned char)*p)) p++;
    size_t kl = (size_t)(p - ks);
    if (is_libpq_key(ks, kl)) return 0;
    if (!((kl == 4 && !strncmp(ks, "user", 4)) || (kl == 8 && !strncmp(ks, "password", 8)))) return 1;
    /* shared lowercase key: libpq values end at whitespace, ADO values at ';' */
    while (*p && *p != '=') p++;
    if (!*p) return 0;
    p++;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\'') return 0;
    while (*p && *p != ';' && !isspace((unsigned char)*p)) p++;
    return *p == ';';
}

static int looks_like_path(const char *s)
{
    size_t n = strlen(s);
    if (s[0] == '/' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0) return !strchr(s, ' ') || s[0] == '/';
    const char *ext[] = {".db", ".sqlite", ".sqlite3", NULL};
    for (int i = 0; ext[i]; i++) {
        size_t l = strlen(ext[i]);
        if (n > l && strcmp(s + n - l, ext[i]) == 0 && !strchr(s, ' ')) return 1;
    }
    return 0;
}

/* MySQL/MariaDB options the client would otherwise reject only at connect time. */
static int check_mysql_opts(const conn_url *u, cb_error *e)
{
    static const char *const modes[] = {"DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY", NULL};
    const char *m = conn_url_param(u, "ssl-mode");
    if (!m) m = conn_url_param(u, "ssl_mode");
    if (m) {
        int ok = 0;
        for (size_t i = 0; modes[i] && !ok; i++) ok = !strcasecmp(m, modes[i]);
        if (!ok) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "ssl-mode must be DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY");
    }
    const char *t = conn_url_param(u, "connect-timeout");
    if (!t) t = conn_url_param(u, "connect_timeout");
    if (t) {
        char *end;
        long v = strtol(t, &end, 10);
        if (!*t || *end || v < 1 || v > 3600) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "connect-timeout must be 1..3600 seconds");
    }
    return 0;
}

int conn_url_parse(const char *s, const char *engine_hint, conn_url *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    if (!s) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty connection string");
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n == 0) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty connection string");
    if (n > 65536) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "connection string too long");
    /* a newline or other control character inside is never part of a valid string: it
     * would be stored and end up in logs, crontabs or a driver's conninfo. TAB stays: it
     * separates libpq key=value pairs and may sit in a quoted password. */
    for (size_t k = 0; k < n; k++)
        if (((unsigned char)s[k] < 0x20 && s[k] != '\t') || s[k] == 0x7f)
            return bad(e, "control character in the connection string (percent-encode it if it belongs to a value)", k);
    char *str = cb_strndup(s, n);
    const char *hint = norm_engine(engine_hint);
    int rc = 0;

    /* scheme: letters, digits, + - . and "jdbc:" in front */
    size_t so = 0;
    if (!strncasecmp(str, "jdbc:", 5)) so = 5;
    size_t i = so;
    while (isalnum((unsigned char)str[i]) || str[i] == '+' || str[i] == '-' || str[i] == '.') i++;
    if (i > so && !strncmp(str + i, "://", 3)) {
        out->scheme = cb_strndup(str, i);
        const char *sch = str + so;
        size_t sl = i - so;
        size_t body = i + 3;
#define SCH(x) (sl == strlen(x) && !strncasecmp(sch, x, sl))
        if (SCH("postgresql") || SCH("postgres")) {
            out->engine = cb_strdup("postgres");
            out->format = CONN_FMT_URI;
            rc = parse_uri(str, body, out, 0, e);
        } else if (SCH("mysql") || SCH("mariadb")) {
            out->engine = cb_strdup("mysql");
            out->format = CONN_FMT_URI;
            rc = parse_uri(str, body, out, 0, e);
        } else if (SCH("mssql")) {
            out->engine = cb_strdup("sqlserver");
            out->format = CONN_FMT_URI;
            rc = parse_uri(str, body, out, 0, e);
        } else if (SCH("sqlserver")) {
            out->engine = cb_strdup("sqlserver");
            /* userinfo before any ';' means the go-mssqldb URL form (path = instance) */
            const char *q = str + body;
            while (*q && *q != ';' && *q != '@' && *q != '/' && *q != '?') q++;
            if (*q == '@' && !so) {
                out->format = CONN_FMT_URI;
                rc = parse_uri(str, body, out, 1, e);
            } else {
                out->format = CONN_FMT_JDBC;
                rc = parse_jdbc(str, body, out, e);
            }
        } else if (SCH("sqlite") || SCH("sqlite3") || SCH("file")) {
            out->engine = cb_strdup("sqlite");
            out->format = CONN_FMT_URI;
            if (str[body]) out->dbname = cb_strdup(str + body);
            else rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "sqlite URL without a path");
        } else {
            rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unsupported scheme");
        }
#undef SCH
    } else if (strchr(str, '=') && !(hint && !strcmp(hint, "sqlite"))) {
        int ado = hint && !strcmp(hint, "sqlserver") ? 1 : hint && !strcmp(hint, "postgres") ? 0 : looks_ado(str);
        if (ado) {
            out->engine = cb_strdup("sqlserver");
            out->format = CONN_FMT_ADO;
            rc = parse_ado(str, out, e);
        } else {
            out->engine = cb_strdup("postgres");
            out->format = CONN_FMT_KEYVALUE;
            rc = parse_kv(str, out, e);
        }
    } else if ((hint && !strcmp(hint, "sqlite")) || (!hint && looks_like_path(str))) {
        /* without --engine sqlite only something that looks like a path is a path:
         * arbitrary text (e.g. a mistyped secret) must not be stored as a "sqlite" URL */
        out->engine = cb_strdup("sqlite");
        out->format = CONN_FMT_URI; /* scheme NULL: a bare path */
        if (has_ctl(str)) rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid sqlite path");
        else out->dbname = cb_strdup(str);
    } else {
        rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "not a connection string (no scheme and no key=value pairs)");
    }
    cb_free_secret_n(str, n + 1);
    if (!rc && hint && strcmp(hint, out->engine) != 0)
        rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "connection string is for %s, expected %s", out->engine, hint);
    if (!rc && !strcmp(out->engine, "mysql")) rc = check_mysql_opts(out, e);
    if (rc) conn_url_free(out);
    return rc;
}
