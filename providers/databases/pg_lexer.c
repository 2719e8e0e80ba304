/* PostgreSQL lexer and the read-only text check (see pg_lexer.h). The token rules follow
 * src/backend/parser/scan.l and the U&/UESCAPE handling of parser.c (str_udeescape). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pg_lexer.h"

#define NAMEDATALEN 64 /* identifiers are truncated to NAMEDATALEN - 1 bytes */

/* ---------- deny-lists ---------- */

#define SIG "signals other backends (its own role's sessions included)"
#define ADM "administers the server"
#define FILES "reads or writes server files"
#define LOCK "takes an advisory lock (a session lock survives ROLLBACK; any of them can block the rotation's lock)"
#define LOBJ "large objects: writes outside the table privileges or keeps session descriptors"
#define DYN "runs SQL given as a string (the text check cannot see that SQL)"
#define REPL "replication slots, origins or WAL: acts outside the transaction"
#define SEQ "sequence changes are not rolled back"
#define STAT "resets statistics (not transactional)"

const pg_denied_fn pg_denied_functions[] = {
    {"pg_terminate_backend", SIG}, {"pg_cancel_backend", SIG}, {"pg_log_backend_memory_contexts", SIG},
    {"pg_reload_conf", ADM}, {"pg_rotate_logfile", ADM}, {"pg_rotate_logfile_old", ADM}, {"pg_promote", ADM},
    {"pg_switch_wal", ADM}, {"pg_switch_xlog", ADM}, {"pg_start_backup", ADM}, {"pg_stop_backup", ADM},
    {"pg_import_system_collations", ADM}, {"pg_current_logfile", FILES}, {"pg_stat_file", FILES},
    {"pg_logdir_ls", FILES}, {"set_config", "changes settings (role, read-only mode, timeouts; at session level with false)"},
    {"pg_notify", "sends a notification (LISTEN/NOTIFY is session state)"},
    {"lo_import", LOBJ}, {"lo_export", LOBJ}, {"lo_unlink", LOBJ}, {"lo_create", LOBJ}, {"lo_creat", LOBJ},
    {"lo_from_bytea", LOBJ}, {"lo_put", LOBJ}, {"lo_get", LOBJ}, {"lo_truncate", LOBJ}, {"lo_truncate64", LOBJ},
    {"lo_open", LOBJ}, {"lo_close", LOBJ}, {"loread", LOBJ}, {"lowrite", LOBJ}, {"lo_lseek", LOBJ},
    {"lo_lseek64", LOBJ}, {"lo_tell", LOBJ}, {"lo_tell64", LOBJ},
    {"ts_stat", DYN}, {"ts_rewrite", DYN " (the ts_rewrite(query, select) form)"},
    {"nextval", SEQ}, {"setval", SEQ}, {"pg_stat_statements_reset", STAT}, {"pg_stat_clear_snapshot", STAT},
    {NULL, NULL}};

const pg_denied_fn pg_denied_prefixes[] = {
    {"query_to_xml", DYN}, {"cursor_to_xml", DYN " (over a cursor)"},
    {"table_to_xml", DYN " (over any relation, views calling functions included)"},
    {"schema_to_xml", DYN " (every table of a schema)"}, {"database_to_xml", DYN " (every table)"},
    {"dblink", "opens another connection and runs SQL in it (outside this transaction)"},
    {"pg_background", DYN " (in a background worker, outside this transaction)"},
    {"pg_advisory_", LOCK}, {"pg_try_advisory_", LOCK},
    {"pg_read_", FILES}, {"pg_ls_", FILES}, {"pg_file_", FILES}, {"pg_backup_", ADM}, {"pg_wal_replay_", ADM},
    {"pg_create_", REPL}, {"pg_drop_replication_slot", REPL}, {"pg_copy_", REPL}, {"pg_logical_", REPL},
    {"pg_replication_", REPL}, {"pg_stat_reset", STAT},
    {NULL, NULL}};

/* ---------- small helpers ---------- */

typedef struct { char *p; size_t n, cap; } sbuf;

static int sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (b->n + n + 1 > cap) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}
static int sb_ch(sbuf *b, char c) { return sb_put(b, &c, 1); }

static int sb_utf8(sbuf *b, uint32_t u)
{
    char o[4];
    size_t n;
    if (u < 0x80) { o[0] = (char)u; n = 1; }
    else if (u < 0x800) { o[0] = (char)(0xC0 | (u >> 6)); o[1] = (char)(0x80 | (u & 0x3F)); n = 2; }
    else if (u < 0x10000) {
        o[0] = (char)(0xE0 | (u >> 12)); o[1] = (char)(0x80 | ((u >> 6) & 0x3F)); o[2] = (char)(0x80 | (u & 0x3F)); n = 3;
    } else {
        o[0] = (char)(0xF0 | (u >> 18)); o[1] = (char)(0x80 | ((u >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((u >> 6) & 0x3F)); o[3] = (char)(0x80 | (u & 0x3F)); n = 4;
    }
    return sb_put(b, o, n);
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_horiz(int c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }
static int is_nl(int c) { return c == '\n' || c == '\r'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int hexval(int c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }
/* scan.l: ident_start [A-Za-z\200-\377_], ident_cont adds [0-9\$] */
static int ident_start(int c) { return is_alpha(c) || c == '_' || c >= 0x80; }
static int ident_cont(int c) { return ident_start(c) || is_digit(c) || c == '$'; }
static int dolq_cont(int c) { return ident_start(c) || is_digit(c); }
static int op_char(int c) { return c && strchr("~!@#^&|`?+-*/%<>=", c) != NULL; }

static int lx_fail(pg_lexer *lx, const char *msg)
{
    snprintf(lx->err, sizeof lx->err, "%s (at byte %zu)", msg, lx->pos);
    return -1;
}

static int at(const pg_lexer *lx, size_t i) { return i < lx->len ? (unsigned char)lx->src[i] : 0; }

void pg_lex_init(pg_lexer *lx, const char *src, size_t len, int scs)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->scs = scs;
}

void pg_token_free(pg_token *t)
{
    if (!t) return;
    free(t->val);
    t->val = NULL;
    t->val_len = 0;
}

/* Whitespace, -- comments and nested block comments. -1 on an unterminated comment. */
static int skip_blank(pg_lexer *lx)
{
    for (;;) {
        int c = at(lx, lx->pos);
        if (lx->pos < lx->len && is_space(c)) { lx->pos++; continue; }
        if (c == '-' && at(lx, lx->pos + 1) == '-') {
            while (lx->pos < lx->len && !is_nl(at(lx, lx->pos))) lx->pos++;
            continue;
        }
        if (c == '/' && at(lx, lx->pos + 1) == '*') {
            size_t start = lx->pos;
            int depth = 0;
            do {
                if (lx->pos + 1 >= lx->len) { lx->pos = start; return lx_fail(lx, "unterminated /* comment"); }
                if (at(lx, lx->pos) == '/' && at(lx, lx->pos + 1) == '*') { depth++; lx->pos += 2; }
                else if (at(lx, lx->pos) == '*' && at(lx, lx->pos + 1) == '/') { depth--; lx->pos += 2; }
                else lx->pos++;
            } while (depth > 0);
            continue;
        }
        return 0;
    }
}

/* After a closing quote: scan.l's quotecontinue ({whitespace_with_newline}{quote}): two
 * literals separated by whitespace that holds a newline are one. Returns the position of
 * the next opening quote, or 0 when the literal really ended. */
static size_t quote_continue(const pg_lexer *lx, size_t p)
{
    for (;;) { /* horiz_whitespace* : horizontal space or -- comment (up to, not past, the newline) */
        if (p < lx->len && is_horiz(at(lx, p))) p++;
        else if (at(lx, p) == '-' && at(lx, p + 1) == '-') { while (p < lx->len && !is_nl(at(lx, p))) p++; }
        else break;
    }
    if (p >= lx->len || !is_nl(at(lx, p))) return 0;
    p++;
    for (;;) { /* special_whitespace* : space+ or a -- comment followed by a newline */
        if (p < lx->len && is_space(at(lx, p))) p++;
        else if (at(lx, p) == '-' && at(lx, p + 1) == '-') {
            while (p < lx->len && !is_nl(at(lx, p))) p++;
            if (p >= lx->len) return 0;
            p++;
        } else break;
    }
    return at(lx, p) == '\'' && p < lx->len ? p : 0;
}

/* Appends one Unicode code point, PostgreSQL's way: surrogate pairs combined, 0 and
 * values past U+10FFFF refused. *pair holds a pending high surrogate. */
static int put_unicode(pg_lexer *lx, sbuf *b, uint32_t u, uint32_t *pair)
{
    if (*pair) {
        if (u < 0xDC00 || u > 0xDFFF) return lx_fail(lx, "invalid Unicode surrogate pair");
        u = 0x10000 + ((*pair - 0xD800) << 10) + (u - 0xDC00);
        *pair = 0;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
        return lx_fail(lx, "invalid Unicode surrogate pair");
    } else if (u >= 0xD800 && u <= 0xDBFF) {
        *pair = u;
        return 0;
    }
    if (u == 0 || u > 0x10FFFF) return lx_fail(lx, "invalid Unicode escape value");
    return sb_utf8(b, u) ? lx_fail(lx, "out of memory") : 0;
}

/* The body of a quoted literal from lx->pos (just after the opening quote) in one of
 * three modes, following continuations. Doubled quotes collapse (not in RAW). */
enum { Q_STD, Q_ESC, Q_RAW };
static int quoted_body(pg_lexer *lx, int mode, sbuf *b)
{
    uint32_t pair = 0;
    for (;;) {
        if (lx->pos >= lx->len) return lx_fail(lx, "unterminated quoted string");
        int c = at(lx, lx->pos);
        if (c == 0) return lx_fail(lx, "NUL byte in statement");
        if (c == '\'') {
            if (mode != Q_RAW && at(lx, lx->pos + 1) == '\'' && lx->pos + 1 < lx->len) {
                if (pair) return lx_fail(lx, "invalid Unicode surrogate pair");
                if (sb_ch(b, '\'')) return lx_fail(lx, "out of memory");
                lx->pos += 2;
                continue;
            }
            size_t next = quote_continue(lx, lx->pos + 1);
            if (next) { lx->pos = next + 1; continue; }
            if (pair) return lx_fail(lx, "invalid Unicode surrogate pair");
            lx->pos++;
            return 0;
        }
        if (mode == Q_ESC && c == '\\') {
            size_t p = lx->pos + 1;
            if (p >= lx->len) return lx_fail(lx, "unterminated quoted string");
            int d = at(lx, p);
            int rc = 0;
            if (d == 'u' || d == 'U') {
                int n = d == 'u' ? 4 : 8;
                uint32_t u = 0;
                for (int i = 1; i <= n; i++) {
                    if (!is_hex(at(lx, p + i)) || p + i >= lx->len) return lx_fail(lx, "invalid Unicode escape");
                    u = (u << 4) | (uint32_t)hexval(at(lx, p + i));
                }
                if (n == 8 && u > 0x10FFFF) return lx_fail(lx, "invalid Unicode escape value");
                lx->pos = p + 1 + n;
                if (put_unicode(lx, b, u, &pair)) return -1;
                continue;
            }
            if (pair) return lx_fail(lx, "invalid Unicode surrogate pair");
            if (d >= '0' && d <= '7') {
                unsigned v = 0;
                int i = 0;
                while (i < 3 && at(lx, p + i) >= '0' && at(lx, p + i) <= '7' && p + i < lx->len) v = v * 8 + (unsigned)(at(lx, p + i++) - '0');
                lx->pos = p + i;
                if ((v & 0xFF) == 0) return lx_fail(lx, "NUL byte from an escape");
                rc = sb_ch(b, (char)(v & 0xFF));
            } else if (d == 'x' && is_hex(at(lx, p + 1)) && p + 1 < lx->len) {
                unsigned v = (unsigned)hexval(at(lx, p + 1));
                size_t k = 2;
                if (is_hex(at(lx, p + 2)) && p + 2 < lx->len) { v = v * 16 + (unsigned)hexval(at(lx, p + 2)); k = 3; }
                lx->pos = p + k;
                if (v == 0) return lx_fail(lx, "NUL byte from an escape");
                rc = sb_ch(b, (char)v);
            } else {
                char o = d == 'b' ? '\b' : d == 'f' ? '\f' : d == 'n' ? '\n' : d == 'r' ? '\r' : d == 't' ? '\t' : (char)d;
                if (d == 0) return lx_fail(lx, "NUL byte in statement");
                lx->pos = p + 1;
                rc = sb_ch(b, o);
            }
            if (rc) return lx_fail(lx, "out of memory");
            continue;
        }
        if (pair) return lx_fail(lx, "invalid Unicode surrogate pair");
        if (sb_ch(b, (char)c)) return lx_fail(lx, "out of memory");
        lx->pos++;
    }
}

/* parser.c's check_uescapechar */
static int uescape_ok(int c)
{
    return !(is_hex(c) || c == '+' || c == '\'' || c == '"' || is_space(c));
}

/* str_udeescape: decodes \XXXX, \+XXXXXX and \\ (with esc as the escape character). */
static int udeescape(pg_lexer *lx, const char *in, size_t n, char esc, sbuf *out)
{
    uint32_t pair = 0;
    size_t i = 0;
    while (i < n) {
        if (in[i] == esc) {
            if (i + 1 < n && in[i + 1] == esc) {
                if (pair) return lx_fail(lx, "invalid Unicode surrogate pair");
                if (sb_ch(out, esc)) return lx_fail(lx, "out of memory");
                i += 2;
                continue;
            }
            int k = 4;
            for (int j = 1; j <= 4; j++)
                if (i + (size_t)j >= n || !is_hex((unsigned char)in[i + (size_t)j])) k = 0;
            if (!k && i + 1 < n && in[i + 1] == '+') {
                k = 7;
                for (int j = 2; j <= 7; j++)
                    if (i + (size_t)j >= n || !is_hex((unsigned char)in[i + (size_t)j])) k = 0;
            }
            if (!k) return lx_fail(lx, "invalid Unicode escape (\\XXXX or \\+XXXXXX)");
            uint32_t u = 0;
            for (int j = k == 4 ? 1 : 2; j <= k; j++) u = (u << 4) | (uint32_t)hexval((unsigned char)in[i + (size_t)j]);
            if (put_unicode(lx, out, u, &pair)) return -1;
            i += (size_t)k + 1;
            continue;
        }
        if (pair) return lx_fail(lx, "invalid Unicode surrogate pair");
        if (sb_ch(out, in[i])) return lx_fail(lx, "out of memory");
        i++;
    }
    if (pair) return lx_fail(lx, "invalid Unicode surrogate pair");
    return 0;
}

/* Identifiers longer than NAMEDATALEN-1 bytes are cut there, never inside a character. */
static void truncate_ident(sbuf *b)
{
    if (b->n < NAMEDATALEN) return;
    size_t n = NAMEDATALEN - 1;
    /* back up over at most 3 continuation bytes (invalid UTF-8 is refused by the server) */
    while (n > NAMEDATALEN - 1 - 3 && ((unsigned char)b->p[n] & 0xC0) == 0x80) n--;
    b->n = n;
    b->p[n] = 0;
}

static void set_val(pg_token *t, sbuf *b)
{
    if (!b->p && sb_put(b, "", 0)) return;
    t->val = b->p;
    t->val_len = b->n;
    b->p = NULL;
}

/* U&"..." / U&'...': the raw body (quotes collapsed), then an optional UESCAPE 'c'
 * (comments and whitespace allowed between, as the grammar allows), then decoding. */
static int unicode_token(pg_lexer *lx, pg_token *t, int ident)
{
    sbuf raw = {0}, dec = {0};
    int rc = -1;
    lx->pos += 3;
    if (ident) {
        for (;;) {
            if (lx->pos >= lx->len) { lx_fail(lx, "unterminated quoted identifier"); goto out; }
            int c = at(lx, lx->pos);
            if (c == 0) { lx_fail(lx, "NUL byte in statement"); goto out; }
            if (c == '"') {
                if (at(lx, lx->pos + 1) == '"' && lx->pos + 1 < lx->len) { sb_ch(&raw, '"'); lx->pos += 2; continue; }
                lx->pos++;
                break;
            }
            if (sb_ch(&raw, (char)c)) { lx_fail(lx, "out of memory"); goto out; }
            lx->pos++;
        }
        if (!raw.n) { lx_fail(lx, "zero-length delimited identifier"); goto out; }
    } else if (quoted_body(lx, Q_STD, &raw)) {
        goto out;
    }
    t->len = lx->pos - t->off;
    char esc = '\\';
    size_t save = lx->pos;
    if (skip_blank(lx)) goto out;
    size_t p = lx->pos;
    if (p + 7 <= lx->len && !strncasecmp(lx->src + p, "uescape", 7) && !ident_cont(at(lx, p + 7))) {
        lx->pos = p + 7;
        /* the escape must be a plain string: refuse a U& one before lexing it, so that a
         * chain of U&'..' UESCAPE U&'..' ... cannot recurse as deep as the input is long */
        if (skip_blank(lx)) goto out;
        int c0 = at(lx, lx->pos);
        if ((c0 == 'u' || c0 == 'U') && at(lx, lx->pos + 1) == '&') {
            lx_fail(lx, "invalid UESCAPE (one character, not a hex digit, +, quote or space)");
            goto out;
        }
        pg_token e = {0};
        int r = pg_lex_next(lx, &e);
        if (r < 0) goto out;
        if (r == 0 || e.kind != PGT_STRING || (e.flags & PGT_F_UNICODE) || e.val_len != 1 ||
            !uescape_ok((unsigned char)e.val[0])) {
            pg_token_free(&e);
            lx_fail(lx, "invalid UESCAPE (one character, not a hex digit, +, quote or space)");
            goto out;
        }
        esc = e.val[0];
        pg_token_free(&e);
    } else {
        lx->pos = save;
    }
    if (udeescape(lx, raw.p ? raw.p : "", raw.n, esc, &dec)) goto out;
    if (ident) {
        if (!dec.n) { lx_fail(lx, "zero-length delimited identifier"); goto out; }
        truncate_ident(&dec);
    }
    if (memchr(dec.p ? dec.p : "", 0, dec.n)) { lx_fail(lx, "NUL character"); goto out; }
    t->kind = ident ? PGT_QIDENT : PGT_STRING;
    t->flags |= PGT_F_UNICODE;
    set_val(t, &dec);
    rc = t->val ? 1 : lx_fail(lx, "out of memory");
out:
    free(raw.p);
    free(dec.p);
    return rc;
}

int pg_lex_next(pg_lexer *lx, pg_token *t)
{
    memset(t, 0, sizeof *t);
    if (skip_blank(lx)) return -1;
    if (lx->pos >= lx->len) { t->off = lx->len; return 0; }
    size_t s = lx->pos;
    int c = at(lx, s), c1 = at(lx, s + 1), c2 = at(lx, s + 2);
    if (s + 1 >= lx->len) c1 = 0;
    if (s + 2 >= lx->len) c2 = 0;
    t->off = s;
    sbuf b = {0};
    if (c == 0) return lx_fail(lx, "NUL byte in statement");

    if ((c == 'u' || c == 'U') && c1 == '&' && (c2 == '"' || c2 == '\'')) return unicode_token(lx, t, c2 == '"');

    if (c == '\'' || (c1 == '\'' && strchr("eEbBxXnN", c))) {
        int mode = lx->scs ? Q_STD : Q_ESC;
        if (c == 'n' || c == 'N') { /* scan.l: "n" is returned as the keyword NCHAR, then the string */
            lx->pos = s + 1;
            t->kind = PGT_IDENT;
            t->len = 1;
            sb_put(&b, "nchar", 5);
            set_val(t, &b);
            return t->val ? 1 : lx_fail(lx, "out of memory");
        }
        if (c == 'e' || c == 'E') mode = Q_ESC;
        if (strchr("bBxX", c)) mode = Q_RAW;
        lx->pos = s + (c == '\'' ? 1 : 2);
        if (quoted_body(lx, mode, &b)) { free(b.p); return -1; }
        if (mode == Q_RAW) {
            for (size_t i = 0; i < b.n; i++)
                if (!((c == 'b' || c == 'B') ? (b.p[i] == '0' || b.p[i] == '1') : is_hex((unsigned char)b.p[i]))) {
                    free(b.p);
                    return lx_fail(lx, "invalid bit-string digit");
                }
        }
        if (b.p && memchr(b.p, 0, b.n)) { free(b.p); return lx_fail(lx, "NUL character"); }
        t->kind = mode == Q_RAW ? PGT_BITSTR : PGT_STRING;
        if (mode == Q_ESC) t->flags |= PGT_F_ESCAPE;
        t->len = lx->pos - s;
        set_val(t, &b);
        return t->val ? 1 : lx_fail(lx, "out of memory");
    }

    if (c == '"') {
        lx->pos = s + 1;
        for (;;) {
            if (lx->pos >= lx->len) { free(b.p); lx->pos = s; return lx_fail(lx, "unterminated quoted identifier"); }
            int d = at(lx, lx->pos);
            if (d == 0) { free(b.p); return lx_fail(lx, "NUL byte in statement"); }
            if (d == '"') {
                if (at(lx, lx->pos + 1) == '"' && lx->pos + 1 < lx->len) { sb_ch(&b, '"'); lx->pos += 2; continue; }
                lx->pos++;
                break;
            }
            if (sb_ch(&b, (char)d)) { free(b.p); return lx_fail(lx, "out of memory"); }
            lx->pos++;
        }
        if (!b.n) { free(b.p); return lx_fail(lx, "zero-length delimited identifier"); }
        truncate_ident(&b);
        t->kind = PGT_QIDENT;
        t->len = lx->pos - s;
        set_val(t, &b);
        return t->val ? 1 : lx_fail(lx, "out of memory");
    }

    if (c == '$') {
        if (is_digit(c1)) {
            size_t p = s + 1;
            while (p < lx->len && is_digit(at(lx, p))) p++;
            lx->pos = p;
            t->kind = PGT_PARAM;
            t->len = p - s;
            return 1;
        }
        size_t p = s + 1;
        if (ident_start(c1) && c1) {
            while (p < lx->len && dolq_cont(at(lx, p))) p++;
        }
        if (at(lx, p) == '$' && p < lx->len) { /* $tag$ ... $tag$ */
            size_t tag = p + 1 - s;
            size_t q = p + 1;
            for (;;) {
                while (q < lx->len && at(lx, q) != '$') {
                    if (at(lx, q) == 0) return lx_fail(lx, "NUL byte in statement");
                    q++;
                }
                if (q >= lx->len) { lx->pos = s; return lx_fail(lx, "unterminated dollar-quoted string"); }
                if (q + tag <= lx->len && !memcmp(lx->src + q, lx->src + s, tag)) break;
                q++;
            }
            if (sb_put(&b, lx->src + p + 1, q - (p + 1))) return lx_fail(lx, "out of memory");
            lx->pos = q + tag;
            t->kind = PGT_STRING;
            t->flags |= PGT_F_DOLLAR;
            t->len = lx->pos - s;
            set_val(t, &b);
            return t->val ? 1 : lx_fail(lx, "out of memory");
        }
        /* dolqfailed: scan.l returns the lone "$" as an {other} character */
        lx->pos = s + 1;
        t->kind = PGT_OTHER;
        t->len = 1;
        return 1;
    }

    if (is_digit(c) || (c == '.' && is_digit(c1))) {
        size_t p = s;
        while (p < lx->len && is_digit(at(lx, p))) p++;
        if (at(lx, p) == '.' && p < lx->len && !(at(lx, p + 1) == '.' && p + 1 < lx->len)) {
            p++;
            while (p < lx->len && is_digit(at(lx, p))) p++;
        }
        if ((at(lx, p) == 'e' || at(lx, p) == 'E') && p < lx->len) {
            size_t q = p + 1;
            if ((at(lx, q) == '+' || at(lx, q) == '-') && q < lx->len) q++;
            if (q < lx->len && is_digit(at(lx, q))) {
                while (q < lx->len && is_digit(at(lx, q))) q++;
                p = q;
            }
        }
        lx->pos = p;
        t->kind = PGT_NUMBER;
        t->len = p - s;
        return 1;
    }

    if (ident_start(c)) {
        size_t p = s;
        while (p < lx->len && ident_cont(at(lx, p))) p++;
        for (size_t i = s; i < p; i++) {
            char ch = lx->src[i];
            if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32); /* downcase_identifier: ASCII only in UTF-8 */
            if (sb_ch(&b, ch)) { free(b.p); return lx_fail(lx, "out of memory"); }
        }
        truncate_ident(&b);
        lx->pos = p;
        t->kind = PGT_IDENT;
        t->len = p - s;
        set_val(t, &b);
        return t->val ? 1 : lx_fail(lx, "out of memory");
    }

    if ((c == ':' && (c1 == ':' || c1 == '=')) || (c == '.' && c1 == '.')) {
        lx->pos = s + 2;
        t->kind = PGT_PUNCT;
        t->len = 2;
        return 1;
    }
    if (strchr(",()[].;:", c)) {
        lx->pos = s + 1;
        t->kind = PGT_PUNCT;
        t->len = 1;
        return 1;
    }
    if (op_char(c)) {
        /* an operator never contains the start of a comment: it ends there */
        size_t p = s;
        while (p < lx->len && op_char(at(lx, p))) {
            if (p > s && ((at(lx, p) == '-' && at(lx, p + 1) == '-') || (at(lx, p) == '/' && at(lx, p + 1) == '*'))) break;
            p++;
        }
        lx->pos = p;
        t->kind = PGT_OP;
        t->len = p - s;
        return 1;
    }
    lx->pos = s + 1;
    t->kind = PGT_OTHER;
    t->len = 1;
    return 1;
}

/* ---------- the read-only check ---------- */

typedef struct { pg_token *v; size_t n, cap; } tokvec;

static void tv_free(tokvec *tv)
{
    for (size_t i = 0; i < tv->n; i++) pg_token_free(&tv->v[i]);
    free(tv->v);
}

static int is_word(const pg_token *t, const char *w) { return t->kind == PGT_IDENT && !strcmp(t->val, w); }
static int is_punct(const pg_lexer *lx, const pg_token *t, const char *p)
{
    return t->kind == PGT_PUNCT && t->len == strlen(p) && !memcmp(lx->src + t->off, p, t->len);
}

static int refuse(char *why, size_t wl, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t wl, const char *fmt, ...)
{
    if (why && wl) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, wl, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const pg_denied_fn *denied(const char *name)
{
    char low[NAMEDATALEN];
    size_t n = strlen(name);
    if (n >= sizeof low) return NULL; /* every entry is shorter */
    for (size_t i = 0; i <= n; i++) low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    for (const pg_denied_fn *d = pg_denied_functions; d->name; d++)
        if (!strcmp(low, d->name)) return d;
    for (const pg_denied_fn *d = pg_denied_prefixes; d->name; d++)
        if (!strncmp(low, d->name, strlen(d->name))) return d;
    return NULL;
}

static int first_keyword_ok(const pg_token *t, int with_show)
{
    if (t->kind != PGT_IDENT) return 0;
    return is_word(t, "select") || is_word(t, "with") || is_word(t, "values") || is_word(t, "table") ||
           (with_show && (is_word(t, "show") || is_word(t, "explain")));
}

static int check_pass(const char *sql, size_t len, int scs, char *why, size_t wl)
{
    pg_lexer lx;
    pg_lex_init(&lx, sql, len, scs);
    tokvec tv = {0};
    int rc = -1;
    for (;;) {
        pg_token t;
        int r = pg_lex_next(&lx, &t);
        if (r < 0) {
            /* With standard_conforming_strings off the server cannot read it either. */
            if (!scs) { rc = 0; goto out; }
            refuse(why, wl, "cannot tokenize the statement: %s", lx.err);
            goto out;
        }
        if (r == 0) break;
        if (tv.n == tv.cap) {
            size_t cap = tv.cap ? tv.cap * 2 : 64;
            pg_token *v = realloc(tv.v, cap * sizeof *v);
            if (!v) { pg_token_free(&t); refuse(why, wl, "out of memory"); goto out; }
            tv.v = v;
            tv.cap = cap;
        }
        tv.v[tv.n++] = t;
    }
    size_t n = tv.n;
    if (!n) { refuse(why, wl, "empty statement"); goto out; }
    /* one statement: nothing but further ';' after the first ';' */
    for (size_t i = 0; i < tv.n; i++) {
        if (!is_punct(&lx, &tv.v[i], ";")) continue;
        n = i;
        for (size_t j = i + 1; j < tv.n; j++)
            if (!is_punct(&lx, &tv.v[j], ";")) { refuse(why, wl, "only one statement is allowed"); goto out; }
        break;
    }
    size_t i = 0;
    while (i < n && is_punct(&lx, &tv.v[i], "(")) i++;
    if (i >= n || !first_keyword_ok(&tv.v[i], 1)) {
        refuse(why, wl, "only SELECT, WITH, VALUES, TABLE, SHOW and EXPLAIN are allowed read-only");
        goto out;
    }
    if (is_word(&tv.v[i], "explain")) {
        i++;
        if (i < n && is_punct(&lx, &tv.v[i], "(")) {
            int depth = 0;
            for (; i < n; i++) {
                if (is_punct(&lx, &tv.v[i], "(")) depth++;
                else if (is_punct(&lx, &tv.v[i], ")") && --depth == 0) { i++; break; }
            }
        } else {
            while (i < n && (is_word(&tv.v[i], "analyze") || is_word(&tv.v[i], "analyse") || is_word(&tv.v[i], "verbose"))) i++;
        }
        while (i < n && is_punct(&lx, &tv.v[i], "(")) i++;
        if (i >= n || !first_keyword_ok(&tv.v[i], 0)) {
            refuse(why, wl, "EXPLAIN is allowed only of SELECT, WITH, VALUES or TABLE");
            goto out;
        }
    }
    for (size_t k = 0; k < n; k++) {
        const pg_token *t = &tv.v[k];
        if (t->kind == PGT_IDENT) {
            if (is_word(t, "insert") || is_word(t, "update") || is_word(t, "delete") || is_word(t, "merge")) {
                refuse(why, wl, "%s is not allowed read-only (data-modifying statements and writable CTEs)", t->val);
                goto out;
            }
            if (is_word(t, "into")) {
                refuse(why, wl, "SELECT ... INTO (it creates a table) is not allowed read-only");
                goto out;
            }
            if (is_word(t, "for") && k + 1 < n &&
                (is_word(&tv.v[k + 1], "share") || is_word(&tv.v[k + 1], "update") ||
                 (k + 2 < n && is_word(&tv.v[k + 1], "key") && is_word(&tv.v[k + 2], "share")) ||
                 (k + 2 < n && is_word(&tv.v[k + 1], "no") && is_word(&tv.v[k + 2], "key")))) {
                refuse(why, wl, "locking clauses (FOR UPDATE/SHARE) are not allowed read-only");
                goto out;
            }
        }
        if (t->kind == PGT_IDENT || t->kind == PGT_QIDENT) {
            const pg_denied_fn *d = denied(t->val);
            if (d) {
                char shown[NAMEDATALEN];
                size_t m = 0;
                for (; m < sizeof shown - 1 && t->val[m]; m++)
                    shown[m] = (t->val[m] >= 0x20 && t->val[m] < 0x7f) ? t->val[m] : '?';
                shown[m] = 0;
                refuse(why, wl, "function %s is not allowed read-only: it %s", shown, d->why);
                goto out;
            }
        }
    }
    rc = 0;
out:
    tv_free(&tv);
    return rc;
}

int pg_readonly_check(const char *sql, char *why, size_t whylen)
{
    if (why && whylen) why[0] = 0;
    if (!sql) return refuse(why, whylen, "empty statement");
    size_t len = strlen(sql);
    if (check_pass(sql, len, 1, why, whylen)) return -1;
    if (check_pass(sql, len, 0, why, whylen)) {
        if (why && whylen) {
            char tmp[400];
            snprintf(tmp, sizeof tmp, "%s (reading strings with standard_conforming_strings off)", why);
            snprintf(why, whylen, "%s", tmp);
        }
        return -1;
    }
    return 0;
}
