/* Connection strings out: URL/ADO/JDBC/key=value formatting (plain, redacted, libpq)
 * and redaction of free text (driver errors) that may quote a password. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "connstr.h"

/* ---------- formatting ---------- */

#define REDACTED "****"

static int secret_key(const char *k)
{
    return strcasestr(k, "password") || !strcasecmp(k, "pwd") || strcasestr(k, "secret") || strcasestr(k, "token");
}

static void put_pct(cb_buf *b, const char *s)
{
    char *x = cb_url_encode(s, 0);
    cb_buf_puts(b, x);
    cb_free_secret(x);
}

static void put_libpq_val(cb_buf *b, const char *v, int force_quote)
{
    int q = force_quote || !*v || strpbrk(v, " \t\r\n\v\f'\\") != NULL;
    if (q) cb_buf_puts(b, "'");
    for (; *v; v++) {
        if (*v == '\'' || *v == '\\') cb_buf_puts(b, "\\");
        cb_buf_append(b, v, 1);
    }
    if (q) cb_buf_puts(b, "'");
}

static void put_ado_val(cb_buf *b, const char *v)
{
    size_t n = strlen(v);
    /* a leading '=' would read as the "==" key escape */
    int need = n == 0 || strpbrk(v, ";'\"") || v[0] == '=' || isspace((unsigned char)v[0]) ||
               isspace((unsigned char)v[n - 1]);
    if (!need) { cb_buf_puts(b, v); return; }
    char qc = strchr(v, '"') && !strchr(v, '\'') ? '\'' : '"';
    cb_buf_append(b, &qc, 1);
    for (; *v; v++) {
        if (*v == qc) cb_buf_append(b, &qc, 1);
        cb_buf_append(b, v, 1);
    }
    cb_buf_append(b, &qc, 1);
}

static void put_ado_key(cb_buf *b, const char *k)
{
    for (; *k; k++) {
        if (*k == '=') cb_buf_puts(b, "=");
        cb_buf_append(b, k, 1);
    }
}

static void put_jdbc_val(cb_buf *b, const char *v)
{
    size_t n = strlen(v);
    int need = strpbrk(v, ";{}=") || (n && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1])));
    if (!need) { cb_buf_puts(b, v); return; }
    cb_buf_puts(b, "{");
    for (; *v; v++) {
        if (*v == '}') cb_buf_puts(b, "}");
        cb_buf_append(b, v, 1);
    }
    cb_buf_puts(b, "}");
}

static const char *pw_out(const conn_url *u, int redact)
{
    return redact ? REDACTED : u->password;
}

static char *format_impl(const conn_url *u, int redact)
{
    cb_buf b;
    cb_buf_init(&b, 1);
    const char *eng = u->engine ? u->engine : "";
    if (!strcmp(eng, "sqlite")) {
        if (u->scheme) cb_buf_printf(&b, "%s://", u->scheme);
        cb_buf_puts(&b, u->dbname ? u->dbname : "");
        return cb_buf_steal(&b);
    }
    if (u->format == CONN_FMT_KEYVALUE) {
        int first = 1;
#define SEP() do { if (!first) cb_buf_puts(&b, " "); first = 0; } while (0)
        if (u->host) { SEP(); cb_buf_puts(&b, "host="); put_libpq_val(&b, u->host, 0); }
        if (u->port) { SEP(); cb_buf_printf(&b, "port=%d", u->port); }
        if (u->dbname) { SEP(); cb_buf_puts(&b, "dbname="); put_libpq_val(&b, u->dbname, 0); }
        if (u->user) { SEP(); cb_buf_puts(&b, "user="); put_libpq_val(&b, u->user, 0); }
        if (u->password) {
            SEP(); cb_buf_puts(&b, "password=");
            if (redact) cb_buf_puts(&b, REDACTED); else put_libpq_val(&b, u->password, 1);
        }
        for (size_t i = 0; i < u->nparams; i++) {
            SEP();
            cb_buf_printf(&b, "%s=", u->params[i].key);
            if (redact && secret_key(u->params[i].key)) cb_buf_puts(&b, REDACTED);
            else put_libpq_val(&b, u->params[i].value, 0);
        }
#undef SEP
        return cb_buf_steal(&b);
    }
    if (u->format == CONN_FMT_ADO) {
        cb_buf_puts(&b, "Server=");
        if (u->host || u->port) {
            cb_buf t;
            cb_buf_init(&t, 0);
            if (u->host && !strncasecmp(u->host, "tcp:", 4)) cb_buf_puts(&t, "tcp:"); /* keep it literal */
            cb_buf_puts(&t, u->host ? u->host : "");
            if (u->port) cb_buf_printf(&t, ",%d", u->port);
            put_ado_val(&b, t.data);
            cb_buf_free(&t);
        }
        cb_buf_puts(&b, ";");
        if (u->dbname) { cb_buf_puts(&b, "Database="); put_ado_val(&b, u->dbname); cb_buf_puts(&b, ";"); }
        if (u->user) { cb_buf_puts(&b, "User Id="); put_ado_val(&b, u->user); cb_buf_puts(&b, ";"); }
        if (u->password) {
            cb_buf_puts(&b, "Password=");
            if (redact) cb_buf_puts(&b, REDACTED); else put_ado_val(&b, u->password);
            cb_buf_puts(&b, ";");
        }
        for (size_t i = 0; i < u->nparams; i++) {
            put_ado_key(&b, u->params[i].key);
            cb_buf_puts(&b, "=");
            if (redact && secret_key(u->params[i].key)) cb_buf_puts(&b, REDACTED);
            else put_ado_val(&b, u->params[i].value);
            cb_buf_puts(&b, ";");
        }
        return cb_buf_steal(&b);
    }
    if (u->format == CONN_FMT_JDBC) {
        cb_buf_printf(&b, "%s://", u->scheme ? u->scheme : "sqlserver");
        if (u->host && strchr(u->host, ':')) { /* IPv6: only the property form is unambiguous */
            cb_buf_printf(&b, ";serverName=%s", u->host);
            if (u->port) cb_buf_printf(&b, ";portNumber=%d", u->port);
        } else {
            if (u->host) cb_buf_puts(&b, u->host);
            if (u->port) cb_buf_printf(&b, ":%d", u->port);
        }
        if (u->dbname) { cb_buf_puts(&b, ";databaseName="); put_jdbc_val(&b, u->dbname); }
        if (u->user) { cb_buf_puts(&b, ";user="); put_jdbc_val(&b, u->user); }
        if (u->password) {
            cb_buf_puts(&b, ";password=");
            if (redact) cb_buf_puts(&b, REDACTED); else put_jdbc_val(&b, u->password);
        }
        for (size_t i = 0; i < u->nparams; i++) {
            cb_buf_printf(&b, ";%s=", u->params[i].key);
            if (redact && secret_key(u->params[i].key)) cb_buf_puts(&b, REDACTED);
            else put_jdbc_val(&b, u->params[i].value);
        }
        return cb_buf_steal(&b);
    }
    /* generic URI */
    /* go-mssqldb URLs: the path is the instance, the database is a query option */
    int gourl = !strcasecmp(u->scheme ? u->scheme : "", "sqlserver");
    const char *inst = gourl ? conn_url_param(u, "instance") : NULL;
    cb_buf_printf(&b, "%s://", u->scheme ? u->scheme : "postgresql");
    if (u->user || u->password || gourl) { /* sqlserver:// needs the '@' to stay a URL */
        if (u->user) put_pct(&b, u->user);
        if (u->password) {
            cb_buf_puts(&b, ":");
            if (redact) cb_buf_puts(&b, REDACTED); else put_pct(&b, pw_out(u, 0));
        }
        cb_buf_puts(&b, "@");
    }
    if (u->host) {
        if (strchr(u->host, ':') && strspn(u->host, "0123456789abcdefABCDEF:.%") == strlen(u->host))
            cb_buf_printf(&b, "[%s]", u->host);
        else put_pct(&b, u->host);
    }
    if (u->port) cb_buf_printf(&b, ":%d", u->port);
    if (inst) { cb_buf_puts(&b, "/"); put_pct(&b, inst); }
    else if (u->dbname && !gourl) { cb_buf_puts(&b, "/"); put_pct(&b, u->dbname); }
    char sep = '?';
    if (gourl && u->dbname) {
        cb_buf_puts(&b, "?database="); put_pct(&b, u->dbname);
        sep = '&';
    }
    for (size_t i = 0; i < u->nparams; i++) {
        if (gourl && !strcmp(u->params[i].key, "instance")) continue;
        cb_buf_append(&b, &sep, 1);
        sep = '&';
        put_pct(&b, u->params[i].key);
        cb_buf_puts(&b, "=");
        if (redact && secret_key(u->params[i].key)) cb_buf_puts(&b, REDACTED);
        else put_pct(&b, u->params[i].value);
    }
    return cb_buf_steal(&b);
}

char *conn_url_format(const conn_url *u) { return format_impl(u, 0); }
char *conn_url_redacted(const conn_url *u) { return format_impl(u, 1); }

char *conn_url_to_libpq(const conn_url *u)
{
    if (!u->engine || strcmp(u->engine, "postgres") != 0) return NULL;
    cb_buf b;
    cb_buf_init(&b, 1);
    if (u->host) { cb_buf_puts(&b, "host="); put_libpq_val(&b, u->host, 1); cb_buf_puts(&b, " "); }
    if (u->port) cb_buf_printf(&b, "port='%d' ", u->port);
    if (u->dbname) { cb_buf_puts(&b, "dbname="); put_libpq_val(&b, u->dbname, 1); cb_buf_puts(&b, " "); }
    if (u->user) { cb_buf_puts(&b, "user="); put_libpq_val(&b, u->user, 1); cb_buf_puts(&b, " "); }
    if (u->password) { cb_buf_puts(&b, "password="); put_libpq_val(&b, u->password, 1); cb_buf_puts(&b, " "); }
    for (size_t i = 0; i < u->nparams; i++) {
        const char *k = u->params[i].key;
        /* keys are written unquoted, so only libpq-shaped names (lowercase identifiers)
         * pass; libpq would refuse any other name anyway */
        int okk = *k != 0;
        for (const char *q = k; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || *q == '_' || (q > k && *q >= '0' && *q <= '9'))) okk = 0;
        if (!okk) continue;
        cb_buf_printf(&b, "%s=", k);
        put_libpq_val(&b, u->params[i].value, 1);
        cb_buf_puts(&b, " ");
    }
    if (b.len) b.data[--b.len] = 0;
    return cb_buf_steal(&b);
}

/* ---------- redaction of free text ---------- */

static void replace_all(cb_buf *out, const char *text, const char *needle)
{
    size_t nl = strlen(needle);
    const char *p = text;
    for (;;) {
        const char *f = nl ? strstr(p, needle) : NULL;
        if (!f) { cb_buf_puts(out, p); break; }
        cb_buf_append(out, p, (size_t)(f - p));
        cb_buf_puts(out, REDACTED);
        p = f + nl;
    }
}

static int word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

char *conn_redact_text(const char *text, const char *password)
{
    if (!text) return NULL;
    cb_buf cur;
    cb_buf_init(&cur, 1);
    cb_buf_puts(&cur, text);
    /* 1. the known password, raw and in the encodings our formats produce */
    if (password && *password) {
        char *enc[3] = {cb_strdup(password), cb_url_encode(password, 0), NULL};
        cb_buf q;
        cb_buf_init(&q, 1);
        put_libpq_val(&q, password, 0);
        enc[2] = cb_buf_steal(&q);
        for (int k = 0; k < 3; k++) {
            if (strlen(enc[k]) >= 1) {
                cb_buf nb;
                cb_buf_init(&nb, 1);
                replace_all(&nb, cur.data, enc[k]);
                cb_buf_free(&cur);
                cur = nb;
            }
            cb_free_secret(enc[k]);
        }
    }
    /* 2. scheme://user:pass@ and key=value passwords */
    cb_buf o;
    cb_buf_init(&o, 1);
    const char *p = cur.data;
    while (*p) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            const char *a = p + 3, *end = a, *lastat = NULL;
            while (*end && !isspace((unsigned char)*end) && *end != '/' && *end != '"' && *end != '\'') {
                if (*end == '@') lastat = end;
                end++;
            }
            const char *colon = lastat ? memchr(a, ':', (size_t)(lastat - a)) : NULL;
            if (colon) {
                cb_buf_append(&o, p, (size_t)(colon + 1 - p));
                cb_buf_puts(&o, REDACTED);
                p = lastat;
                continue;
            }
        }
        static const char *const keys[] = {"password", "pwd", "sslpassword", NULL};
        int matched = 0;
        if (p == cur.data || !word_char(p[-1])) {
            for (int k = 0; keys[k] && !matched; k++) {
                size_t kl = strlen(keys[k]);
                if (strncasecmp(p, keys[k], kl) || word_char(p[kl])) continue;
                const char *q = p + kl;
                while (*q == ' ' || *q == '\t') q++;
                int sqlstyle = 0;
                if (*q == '=' || *q == ':') q++;
                else if (*q == '\'' && q > p + kl) sqlstyle = 1; /* PASSWORD 'x' */
                else continue;
                while (*q == ' ' || *q == '\t') q++;
                cb_buf_append(&o, p, (size_t)(q - p));
                if (*q == '\'' || *q == '"') {
                    char qc = *q++;
                    while (*q) {
                        if (*q == '\\' && qc == '\'' && q[1]) { q += 2; continue; }
                        if (*q == qc) {
                            if (q[1] == qc) { q += 2; continue; }
                            q++;
                            break;
                        }
                        q++;
                    }
                    cb_buf_append(&o, &qc, 1);
                    cb_buf_puts(&o, REDACTED);
                    cb_buf_append(&o, &qc, 1);
                } else if (!sqlstyle) {
                    while (*q && *q != ';' && *q != '&' && !isspace((unsigned char)*q) && *q != ',' && *q != ')') q++;
                    cb_buf_puts(&o, REDACTED);
                }
                p = q;
                matched = 1;
            }
        }
        if (matched) continue;
        cb_buf_append(&o, p, 1);
        p++;
    }
    cb_buf_free(&cur);
    /* Replacing can splice a new occurrence at a boundary ("a" + "****" holds "a***"):
     * if the known password is still there, withhold the whole message (fail closed). */
    if (password && *password && o.data && strstr(o.data, password)) {
        cb_buf_free(&o);
        return cb_strdup("(message withheld: it contained a credential)");
    }
    return cb_buf_steal(&o);
}

/* Replaces each name (a login, host or database: NULL and names shorter than 2 are
 * skipped) where it stands as a whole word, so "app" is taken out of "role app" but not
 * out of "application". For text that outlives its row and cannot be re-encrypted: the
 * append-only audit log. */
char *conn_redact_names(const char *text, const char *const *names, size_t n)
{
    if (!text) return NULL;
    char *cur = cb_strdup(text);
    /* longest first: a login inside a reference ("vault://db/app" and "app") must not
     * break the longer name before it is replaced whole */
    size_t *ord = cb_malloc((n ? n : 1) * sizeof *ord);
    for (size_t k = 0; k < n; k++) ord[k] = k;
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0; b--) {
            size_t lb = names[ord[b]] ? strlen(names[ord[b]]) : 0, la = names[ord[b - 1]] ? strlen(names[ord[b - 1]]) : 0;
            if (lb <= la) break;
            size_t t = ord[b]; ord[b] = ord[b - 1]; ord[b - 1] = t;
        }
    for (size_t k = 0; k < n; k++) {
        const char *nm = names[ord[k]];
        size_t nl = nm ? strlen(nm) : 0;
        if (nl < 2) continue;
        cb_buf o;
        cb_buf_init(&o, 1);
        const char *p = cur;
        for (;;) {
            const char *f = strstr(p, nm);
            while (f && ((f > cur && word_char(f[-1]) && word_char(nm[0])) ||
                         (word_char(f[nl]) && word_char(nm[nl - 1]))))
                f = strstr(f + 1, nm);
            if (!f) { cb_buf_puts(&o, p); break; }
            cb_buf_append(&o, p, (size_t)(f - p));
            cb_buf_puts(&o, REDACTED);
            p = f + nl;
        }
        free(cur);
        cur = cb_buf_steal(&o);
    }
    free(ord);
    return cur;
}
