/* T-SQL tokenizer and statement classifier for the fake SQL Server; see tds_sql.h. */
#include "tds_sql.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void push(tdsf_tok **t, size_t *n, size_t *cap, int kind, const char *s, size_t len, int national)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        tdsf_tok *nt = realloc(*t, *cap * sizeof **t);
        if (!nt) abort();
        *t = nt;
    }
    char *txt = malloc(len + 1);
    if (!txt) abort();
    memcpy(txt, s, len);
    txt[len] = 0;
    (*t)[*n].kind = kind;
    (*t)[*n].text = txt;
    (*t)[*n].national = national;
    (*n)++;
}

/* Reads a quoted run starting after the opening char up to close, with the close
 * char doubled as its escape. Returns the decoded text (malloc'd) and advances *pp
 * past the closing char; NULL if unterminated. */
static char *quoted(const char **pp, char close, size_t *len)
{
    const char *p = *pp;
    size_t cap = strlen(p) + 1, o = 0;
    char *out = malloc(cap);
    if (!out) abort();
    for (;;) {
        if (!*p) { free(out); return NULL; }
        if (*p == close) {
            if (p[1] == close) { out[o++] = close; p += 2; continue; }
            p++;
            break;
        }
        out[o++] = *p++;
    }
    out[o] = 0;
    *len = o;
    *pp = p;
    return out;
}

static int word_char(unsigned char c) { return isalnum(c) || c == '_' || c == '#' || c == '$' || c >= 0x80; }

int tdsf_tokenize(const char *sql, tdsf_tok **toks, size_t *n)
{
    tdsf_tok *t = NULL;
    size_t cnt = 0, cap = 0;
    const char *p = sql;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        if (isspace(c)) { p++; continue; }
        if (c == '-' && p[1] == '-') { while (*p && *p != '\n') p++; continue; }
        if (c == '/' && p[1] == '*') {   /* T-SQL block comments nest */
            int depth = 0;
            do {
                if (p[0] == '/' && p[1] == '*') { depth++; p += 2; }
                else if (p[0] == '*' && p[1] == '/') { depth--; p += 2; }
                else if (!*p) goto bad;
                else p++;
            } while (depth > 0);
            continue;
        }
        int national = 0;
        if ((c == 'N' || c == 'n') && p[1] == '\'') { national = 1; p++; c = '\''; }
        if (c == '\'' || c == '[' || c == '"') {
            p++;
            size_t len;
            char *s = quoted(&p, c == '[' ? ']' : (char)c, &len);
            if (!s) goto bad;
            push(&t, &cnt, &cap, c == '\'' ? TDSF_TK_STR : TDSF_TK_QIDENT, s, len, national);
            free(s);
            continue;
        }
        if (c == '@') {
            const char *s = p + 1;
            int sys = *s == '@';
            if (sys) s++;
            const char *e = s;
            while (word_char((unsigned char)*e)) e++;
            push(&t, &cnt, &cap, sys ? TDSF_TK_SYSVAR : TDSF_TK_VAR, s, (size_t)(e - s), 0);
            p = e;
            continue;
        }
        if (isdigit(c) || ((c == '-' || c == '+') && isdigit((unsigned char)p[1]) && cnt > 0 &&
                           t[cnt - 1].kind == TDSF_TK_PUNCT && strcmp(t[cnt - 1].text, ")") != 0)) {
            const char *e = p + 1;
            while (isdigit((unsigned char)*e)) e++;
            push(&t, &cnt, &cap, TDSF_TK_NUM, p, (size_t)(e - p), 0);
            p = e;
            continue;
        }
        if (word_char(c)) {
            const char *e = p;
            while (word_char((unsigned char)*e)) e++;
            push(&t, &cnt, &cap, TDSF_TK_WORD, p, (size_t)(e - p), 0);
            p = e;
            continue;
        }
        if (c == ';') { push(&t, &cnt, &cap, TDSF_TK_SEMI, p, 1, 0); p++; continue; }
        if ((c == '<' && (p[1] == '>' || p[1] == '=')) || (c == '!' && p[1] == '=') || (c == '>' && p[1] == '=')) {
            push(&t, &cnt, &cap, TDSF_TK_PUNCT, p, 2, 0);
            p += 2;
            continue;
        }
        push(&t, &cnt, &cap, TDSF_TK_PUNCT, p, 1, 0);
        p++;
    }
    *toks = t;
    *n = cnt;
    return 0;
bad:
    tdsf_toks_free(t, cnt);
    *toks = NULL;
    *n = 0;
    return -1;
}

void tdsf_toks_free(tdsf_tok *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* String literals may be passwords. */
        volatile char *v = t[i].text;
        for (size_t k = 0; v[k]; k++) v[k] = 0;
        free(t[i].text);
    }
    free(t);
}

static int kw(const tdsf_tok *t, size_t n, size_t i, const char *w)
{
    return i < n && t[i].kind == TDSF_TK_WORD && strcasecmp(t[i].text, w) == 0;
}
static int punct(const tdsf_tok *t, size_t n, size_t i, const char *w)
{
    return i < n && t[i].kind == TDSF_TK_PUNCT && strcmp(t[i].text, w) == 0;
}
static int ident(const tdsf_tok *t, size_t n, size_t i)
{
    return i < n && (t[i].kind == TDSF_TK_WORD || t[i].kind == TDSF_TK_QIDENT);
}

static void syntax(const tdsf_tok *t, size_t n, size_t i, tdsf_stmt *st)
{
    st->kind = TDSF_ST_SYNTAX;
    st->name = i < n ? t[i].text : "";
}

/* SELECT session_id FROM sys.dm_exec_sessions WHERE login_name = N'x' [AND session_id <> @@SPID] */
static int sessions_query(const tdsf_tok *t, size_t n, tdsf_stmt *st)
{
    size_t i = 1;
    if (!(kw(t, n, i, "session_id") && kw(t, n, i + 1, "FROM") && kw(t, n, i + 2, "sys") &&
          punct(t, n, i + 3, ".") && kw(t, n, i + 4, "dm_exec_sessions") && kw(t, n, i + 5, "WHERE") &&
          kw(t, n, i + 6, "login_name") && punct(t, n, i + 7, "=") && i + 8 < n && t[i + 8].kind == TDSF_TK_STR))
        return 0;
    st->name = t[i + 8].text;
    i += 9;
    if (i == n) { st->kind = TDSF_ST_SELECT_SESSIONS; return 1; }
    if (kw(t, n, i, "AND") && kw(t, n, i + 1, "session_id") && (punct(t, n, i + 2, "<>") || punct(t, n, i + 2, "!=")) &&
        i + 3 < n && t[i + 3].kind == TDSF_TK_SYSVAR && strcasecmp(t[i + 3].text, "SPID") == 0 && i + 4 == n) {
        st->exclude_self = 1;
        st->kind = TDSF_ST_SELECT_SESSIONS;
        return 1;
    }
    return 0;
}

static void classify_select(const tdsf_tok *t, size_t n, tdsf_stmt *st)
{
    if (n == 2 && t[1].kind == TDSF_TK_SYSVAR) {
        if (strcasecmp(t[1].text, "SPID") == 0) { st->kind = TDSF_ST_SELECT_SPID; return; }
        if (strcasecmp(t[1].text, "VERSION") == 0) { st->kind = TDSF_ST_SELECT_VERSION; return; }
    }
    if (n == 2 && t[1].kind == TDSF_TK_VAR) { st->kind = TDSF_ST_SELECT_VAR; st->name = t[1].text; return; }
    if (n == 2 && t[1].kind == TDSF_TK_NUM) { st->kind = TDSF_ST_SELECT_INT; st->num = strtoll(t[1].text, NULL, 10); return; }
    if (n == 2 && t[1].kind == TDSF_TK_STR) { st->kind = TDSF_ST_SELECT_STR; st->name = t[1].text; return; }
    if (sessions_query(t, n, st)) return;
    if (n == 10 && kw(t, n, 1, "name") && kw(t, n, 2, "FROM") && kw(t, n, 3, "sys") && punct(t, n, 4, ".") &&
        kw(t, n, 5, "server_principals") && kw(t, n, 6, "WHERE") && kw(t, n, 7, "name") && kw(t, n, 8, "LIKE") &&
        t[9].kind == TDSF_TK_STR) {
        st->kind = TDSF_ST_SELECT_PRINCIPALS;
        st->name = t[9].text;
        return;
    }
    /* Generic SELECT list FROM source: find FROM at depth 0. */
    size_t from = 0;
    int depth = 0;
    for (size_t i = 1; i < n; i++) {
        if (punct(t, n, i, "(")) depth++;
        else if (punct(t, n, i, ")")) depth--;
        else if (depth == 0 && kw(t, n, i, "FROM")) { from = i; break; }
    }
    if (!from || from == 1 || from + 1 >= n) { syntax(t, n, from ? from : n - 1, st); return; }
    /* Column names: the last identifier of each comma-separated item. */
    size_t start = 1;
    if (kw(t, n, 1, "TOP") && 2 < n && t[2].kind == TDSF_TK_NUM) start = 3;
    else if (kw(t, n, 1, "TOP") && punct(t, n, 2, "(") && 4 < n && punct(t, n, 4, ")")) start = 5;
    if (kw(t, n, start, "DISTINCT")) start++;
    const char *last = NULL;
    depth = 0;
    for (size_t i = start; i <= from; i++) {
        if (i == from || (depth == 0 && punct(t, n, i, ","))) {
            if (!last || st->ncols == TDSF_MAX_COLS) { syntax(t, n, i, st); return; }
            st->cols[st->ncols++] = last;
            last = NULL;
            continue;
        }
        if (punct(t, n, i, "(")) depth++;
        else if (punct(t, n, i, ")")) depth--;
        if (ident(t, n, i) && !kw(t, n, i, "AS")) last = t[i].text;
        else if (punct(t, n, i, "*")) last = "*";
    }
    size_t s = from + 1;
    if (kw(t, n, s, "INFORMATION_SCHEMA") && punct(t, n, s + 1, ".") && ident(t, n, s + 2)) {
        st->kind = TDSF_ST_SELECT_INFOSCHEMA;
        return;
    }
    /* t or dbo.t, optionally followed by nothing else. */
    if (kw(t, n, s, "dbo") && punct(t, n, s + 1, ".")) s += 2;
    if (ident(t, n, s) && strcasecmp(t[s].text, "t") == 0 && s + 1 == n) {
        for (size_t k = 0; k < st->ncols; k++)
            if (strcmp(st->cols[k], "*") && strcasecmp(st->cols[k], "name") && strcasecmp(st->cols[k], "n")) {
                st->kind = TDSF_ST_SYNTAX;   /* invalid column: reported as a syntax error */
                st->name = st->cols[k];
                return;
            }
        st->kind = TDSF_ST_SELECT_T;
        return;
    }
    st->kind = TDSF_ST_BAD_OBJECT;
    st->name = ident(t, n, s) ? t[s].text : "";
}

static void classify_exec(const tdsf_tok *t, size_t n, tdsf_stmt *st)
{
    size_t i = 1;
    if (i < n && t[i].kind == TDSF_TK_VAR && punct(t, n, i + 1, "=")) { st->ret_var = t[i].text; i += 2; }
    /* proc name, possibly dbo.x or sys.x */
    if (!ident(t, n, i)) { syntax(t, n, i, st); return; }
    st->proc = t[i].text;
    if (punct(t, n, i + 1, ".") && ident(t, n, i + 2)) { st->proc = t[i + 2].text; i += 2; }
    i++;
    while (i < n) {
        if (st->nparams == TDSF_MAX_PARAMS) { syntax(t, n, i, st); return; }
        if (!(t[i].kind == TDSF_TK_VAR && punct(t, n, i + 1, "=") && i + 2 < n &&
              (t[i + 2].kind == TDSF_TK_STR || t[i + 2].kind == TDSF_TK_NUM || t[i + 2].kind == TDSF_TK_WORD))) {
            syntax(t, n, i, st);
            return;
        }
        st->pnames[st->nparams] = t[i].text;
        st->pvalues[st->nparams++] = t[i + 2].text;
        i += 3;
        if (i < n) {
            if (!punct(t, n, i, ",")) { syntax(t, n, i, st); return; }
            i++;
        }
    }
    st->kind = TDSF_ST_EXEC;
}

void tdsf_classify(const tdsf_tok *t, size_t n, tdsf_stmt *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0) { st->kind = TDSF_ST_EMPTY; return; }
    if (kw(t, n, 0, "SELECT")) { classify_select(t, n, st); return; }
    if (kw(t, n, 0, "SET")) { st->kind = TDSF_ST_SET; return; }
    if (kw(t, n, 0, "USE") && n == 2 && ident(t, n, 1)) { st->kind = TDSF_ST_USE; st->name = t[1].text; return; }
    if (kw(t, n, 0, "BEGIN") && (kw(t, n, 1, "TRAN") || kw(t, n, 1, "TRANSACTION")) && n == 2) { st->kind = TDSF_ST_BEGIN; return; }
    if ((kw(t, n, 0, "COMMIT") || kw(t, n, 0, "ROLLBACK")) &&
        (n == 1 || (n == 2 && (kw(t, n, 1, "TRAN") || kw(t, n, 1, "TRANSACTION"))))) {
        st->kind = kw(t, n, 0, "COMMIT") ? TDSF_ST_COMMIT : TDSF_ST_ROLLBACK;
        return;
    }
    /* IF @@TRANCOUNT > 0 ROLLBACK [TRAN|TRANSACTION]: the broker's cleanup. */
    if (kw(t, n, 0, "IF") && n >= 5 && t[1].kind == TDSF_TK_SYSVAR && strcasecmp(t[1].text, "TRANCOUNT") == 0 &&
        punct(t, n, 2, ">") && t[3].kind == TDSF_TK_NUM && strcmp(t[3].text, "0") == 0 && kw(t, n, 4, "ROLLBACK") &&
        (n == 5 || (n == 6 && (kw(t, n, 5, "TRAN") || kw(t, n, 5, "TRANSACTION"))))) {
        st->kind = TDSF_ST_ROLLBACK;
        return;
    }
    if (kw(t, n, 0, "ALTER") && kw(t, n, 1, "LOGIN")) {
        /* ALTER LOGIN name WITH PASSWORD = 'new' [OLD_PASSWORD = 'old'] (no comma: the
         * documented grammar puts OLD_PASSWORD inside the PASSWORD option). */
        if (!ident(t, n, 2)) { syntax(t, n, 2, st); return; }
        if (!kw(t, n, 3, "WITH")) { syntax(t, n, 3, st); return; }
        if (!kw(t, n, 4, "PASSWORD") || !punct(t, n, 5, "=") || !(6 < n && t[6].kind == TDSF_TK_STR)) { syntax(t, n, 4, st); return; }
        st->name = t[2].text;
        st->password = t[6].text;
        if (n > 7) {
            if (!(kw(t, n, 7, "OLD_PASSWORD") && punct(t, n, 8, "=") && 9 < n && t[9].kind == TDSF_TK_STR && n == 10)) {
                syntax(t, n, 7, st);
                return;
            }
            st->old_password = t[9].text;
        }
        st->kind = TDSF_ST_ALTER_LOGIN;
        return;
    }
    /* the lease family: CREATE LOGIN x WITH PASSWORD = N'..' | CREATE USER x FOR LOGIN x |
     * ALTER ROLE r ADD MEMBER x | DROP USER x | DROP LOGIN x */
    if (kw(t, n, 0, "CREATE") && kw(t, n, 1, "LOGIN")) {
        if (n == 7 && ident(t, n, 2) && kw(t, n, 3, "WITH") && kw(t, n, 4, "PASSWORD") && punct(t, n, 5, "=") &&
            t[6].kind == TDSF_TK_STR) {
            st->kind = TDSF_ST_CREATE_LOGIN;
            st->name = t[2].text;
            st->password = t[6].text;
        } else {
            syntax(t, n, 2, st);
        }
        return;
    }
    if (kw(t, n, 0, "CREATE") && kw(t, n, 1, "USER")) {
        if (n == 6 && ident(t, n, 2) && kw(t, n, 3, "FOR") && kw(t, n, 4, "LOGIN") && ident(t, n, 5)) {
            st->kind = TDSF_ST_CREATE_USER;
            st->name = t[2].text;
            st->role = t[5].text;
        } else {
            syntax(t, n, 2, st);
        }
        return;
    }
    if (kw(t, n, 0, "ALTER") && kw(t, n, 1, "ROLE")) {
        if (n == 6 && ident(t, n, 2) && kw(t, n, 3, "ADD") && kw(t, n, 4, "MEMBER") && ident(t, n, 5)) {
            st->kind = TDSF_ST_ALTER_ROLE_ADD;
            st->role = t[2].text;
            st->name = t[5].text;
        } else {
            syntax(t, n, 2, st);
        }
        return;
    }
    if (kw(t, n, 0, "DROP") && (kw(t, n, 1, "USER") || kw(t, n, 1, "LOGIN"))) {
        if (n == 3 && ident(t, n, 2)) {
            st->kind = kw(t, n, 1, "USER") ? TDSF_ST_DROP_USER : TDSF_ST_DROP_LOGIN;
            st->name = t[2].text;
        } else {
            syntax(t, n, 2, st);
        }
        return;
    }
    if (kw(t, n, 0, "KILL")) {
        if (n == 2 && t[1].kind == TDSF_TK_NUM && t[1].text[0] != '-' && strlen(t[1].text) < 10) {
            st->kind = TDSF_ST_KILL;
            st->num = strtoll(t[1].text, NULL, 10);
        } else {
            syntax(t, n, 1, st);
        }
        return;
    }
    if (kw(t, n, 0, "DECLARE") && n == 3 && t[1].kind == TDSF_TK_VAR && (kw(t, n, 2, "int") || kw(t, n, 2, "integer"))) {
        st->kind = TDSF_ST_DECLARE;
        st->name = t[1].text;
        return;
    }
    if (kw(t, n, 0, "EXEC") || kw(t, n, 0, "EXECUTE")) { classify_exec(t, n, st); return; }
    syntax(t, n, 0, st);
}
