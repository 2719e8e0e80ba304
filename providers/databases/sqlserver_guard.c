/* The read-only statement guard for SQL Server (see sqlserver.h). It tokenizes like
 * T-SQL (nested block comments, '' and N'' literals, "" and [] identifiers) and refuses
 * anything that is not exactly one SELECT. When in doubt it refuses. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "sqlserver.h"

#define GUARD_MAX_SQL (1u << 20)

/* Words that never belong in a single read-only SELECT: writes, DDL, permissions,
 * procedure calls, server control, rowset providers, other statements that could
 * follow a SELECT without a ';' (T-SQL does not need one). */
static const char *const forbidden[] = {
    "INSERT", "UPDATE", "DELETE", "MERGE", "DROP", "ALTER", "CREATE", "EXEC", "EXECUTE",
    "GRANT", "REVOKE", "DENY", "TRUNCATE", "BACKUP", "RESTORE", "SHUTDOWN", "KILL", "DBCC",
    "OPENROWSET", "OPENQUERY", "OPENDATASOURCE", "OPENXML", "INTO", "OUTPUT", "DECLARE", "SET",
    "USE", "BEGIN", "COMMIT", "ROLLBACK", "SAVE", "WAITFOR", "RECONFIGURE", "CHECKPOINT",
    "BULK", "READTEXT", "WRITETEXT", "UPDATETEXT", "SETUSER", "REVERT", "RAISERROR", "PRINT",
    "THROW", "GOTO", "RETURN", "IF", "WHILE", "OPEN", "CLOSE", "DEALLOCATE", "ENABLE",
    "DISABLE", "RECEIVE", "SEND", "CONVERSATION", "GO", NULL
};

typedef struct gtok { int kind; const char *s; size_t n; } gtok;
enum { G_WORD = 1, G_QIDENT, G_STR, G_PUNCT, G_SEMI, G_OTHER };

static int is_word(unsigned char c) { return c < 0x80 && (isalnum(c) || c == '_' || c == '@' || c == '#' || c == '$'); }

/* Next token from *pp; 0 at end, -1 on an unterminated literal/comment/identifier. */
static int next_tok(const char **pp, gtok *t)
{
    const char *p = *pp;
    for (;;) {
        /* Non-ASCII bytes outside literals count as separators, so that a Unicode
         * space the server might accept cannot glue a keyword to a word. */
        while (*p && (isspace((unsigned char)*p) || (unsigned char)*p >= 0x80)) p++;
        if (p[0] == '-' && p[1] == '-') { while (*p && *p != '\n') p++; continue; }
        if (p[0] == '/' && p[1] == '*') {
            int depth = 0;
            do {
                if (!*p) return -1;
                if (p[0] == '/' && p[1] == '*') { depth++; p += 2; }
                else if (p[0] == '*' && p[1] == '/') { depth--; p += 2; }
                else p++;
            } while (depth > 0);
            continue;
        }
        break;
    }
    if (!*p) { *pp = p; return 0; }
    const char *start = p;
    char close = 0;
    int kind = 0;
    if ((*p == 'N' || *p == 'n') && p[1] == '\'') { p++; close = '\''; kind = G_STR; }
    else if (*p == '\'') { close = '\''; kind = G_STR; }
    else if (*p == '"') { close = '"'; kind = G_QIDENT; }
    else if (*p == '[') { close = ']'; kind = G_QIDENT; }
    if (close) {
        p++;
        for (;;) {
            if (!*p) return -1;
            if (*p == close) { if (p[1] == close) { p += 2; continue; } p++; break; }
            p++;
        }
        t->kind = kind;
        t->s = start;
        t->n = (size_t)(p - start);
        *pp = p;
        return 1;
    }
    if (is_word((unsigned char)*p)) {
        while (is_word((unsigned char)*p)) p++;
        t->kind = G_WORD;
    } else {
        t->kind = *p == ';' ? G_SEMI : G_PUNCT;
        p++;
    }
    t->s = start;
    t->n = (size_t)(p - start);
    *pp = p;
    return 1;
}

static int word_is(const gtok *t, const char *w)
{
    return t->kind == G_WORD && strlen(w) == t->n && strncasecmp(t->s, w, t->n) == 0;
}

/* sp_ / xp_ prefixes, bare or inside a quoted identifier. */
static int is_proc_name(const gtok *t)
{
    const char *s = t->s;
    size_t n = t->n;
    if (t->kind == G_QIDENT) { s++; n = n >= 2 ? n - 2 : 0; }
    else if (t->kind != G_WORD) return 0;
    return n >= 3 && (strncasecmp(s, "sp_", 3) == 0 || strncasecmp(s, "xp_", 3) == 0);
}

static int refuse(char *why, size_t whylen, const char *msg)
{
    if (why && whylen) snprintf(why, whylen, "%s", msg);
    return -1;
}

/* "<what> WORD is not allowed", the word cut to 40 bytes. */
static int refuse_word(char *why, size_t whylen, const char *what, const gtok *t)
{
    if (why && whylen) snprintf(why, whylen, "%s %.*s is not allowed in a read-only query", what, t->n > 40 ? 40 : (int)t->n, t->s);
    return -1;
}

int sqlserver_readonly_check(const char *sql, char *why, size_t whylen)
{
    if (!sql) return refuse(why, whylen, "empty statement");
    if (strlen(sql) > GUARD_MAX_SQL) return refuse(why, whylen, "statement too long");
    const char *p = sql;
    gtok t, prev = {0};
    int r, idx = 0, depth = 0, with = 0, top_selects = 0, after_semi = 0;
    while ((r = next_tok(&p, &t)) > 0) {
        if (after_semi) return refuse(why, whylen, "more than one statement");
        if (t.kind == G_SEMI) {
            if (depth != 0) return refuse(why, whylen, "unbalanced parentheses");
            after_semi = 1;
            continue;
        }
        if (idx == 0) {
            if (word_is(&t, "WITH")) with = 1;
            else if (!word_is(&t, "SELECT")) return refuse(why, whylen, "not a SELECT statement");
        }
        if (t.kind == G_WORD)
            for (size_t i = 0; forbidden[i]; i++)
                if (word_is(&t, forbidden[i])) return refuse_word(why, whylen, "keyword", &t);
        if (is_proc_name(&t)) return refuse_word(why, whylen, "procedure", &t);
        if (word_is(&t, "VALUE") && word_is(&prev, "NEXT"))
            return refuse(why, whylen, "NEXT VALUE FOR changes a sequence");
        if (t.kind == G_PUNCT && t.s[0] == '(') depth++;
        if (t.kind == G_PUNCT && t.s[0] == ')' && --depth < 0) return refuse(why, whylen, "unbalanced parentheses");
        if (depth == 0 && word_is(&t, "SELECT")) {
            /* A second top-level SELECT is only a set operator's operand or, once, the
             * main query after a CTE list; otherwise it starts another statement. */
            int ok = idx == 0 || word_is(&prev, "UNION") || word_is(&prev, "ALL") ||
                     word_is(&prev, "EXCEPT") || word_is(&prev, "INTERSECT") ||
                     (with && top_selects == 0 && prev.kind == G_PUNCT && prev.s[0] == ')');
            if (!ok) return refuse(why, whylen, "more than one statement");
            top_selects++;
        }
        prev = t;
        idx++;
    }
    if (r < 0) return refuse(why, whylen, "unterminated literal, identifier or comment");
    if (idx == 0) return refuse(why, whylen, "empty statement");
    if (depth != 0) return refuse(why, whylen, "unbalanced parentheses");
    if (top_selects == 0) return refuse(why, whylen, "not a SELECT statement");
    return 0;
}

static char *quote(const char *s, const char *open, char close, size_t maxlen)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n > maxlen) return NULL;
    char *out = cb_malloc(2 * n + strlen(open) + 2);
    size_t o = 0;
    for (const char *q = open; *q; q++) out[o++] = *q;
    for (size_t i = 0; i < n; i++) {
        out[o++] = s[i];
        if (s[i] == close) out[o++] = close;
    }
    out[o++] = close;
    out[o] = 0;
    return out;
}

/* sysname is nvarchar(128); 4 UTF-8 bytes per character at most. */
char *sqlserver_quote_ident(const char *s) { return s && *s ? quote(s, "[", ']', 128 * 4) : NULL; }
char *sqlserver_quote_nstring(const char *s) { return quote(s, "N'", '\'', 1u << 20); }
