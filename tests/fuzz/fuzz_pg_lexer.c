/* libFuzzer: the PostgreSQL lexer and read-only check must never crash, and must agree with
 * quoting: tokens stay inside the input in increasing order, decoded values have no NUL
 * and names at most 63 bytes; any input quoted as E'...' is one string literal whose value
 * is the input (and SELECT of it is accepted); any input quoted as "..." is one name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "databases/pg_lexer.h"

static void lex_all(const char *s, size_t n, int scs)
{
    pg_lexer lx;
    pg_lex_init(&lx, s, n, scs);
    size_t last = 0;
    for (int guard = 0;; guard++) {
        pg_token t;
        int r = pg_lex_next(&lx, &t);
        if (r < 0) {
            if (!memchr(lx.err, 0, sizeof lx.err) || !lx.err[0]) abort();
            return;
        }
        if (r == 0) return;
        if (t.off < last || t.off + t.len > n || t.len == 0) abort();
        last = t.off + t.len;
        if (t.kind == PGT_IDENT || t.kind == PGT_QIDENT || t.kind == PGT_STRING || t.kind == PGT_BITSTR) {
            if (!t.val || strlen(t.val) != t.val_len) abort();
            if ((t.kind == PGT_IDENT || t.kind == PGT_QIDENT) && (t.val_len > 63 || t.val_len == 0)) abort();
        }
        pg_token_free(&t);
        if ((size_t)guard > n + 1) abort(); /* every token consumes input */
    }
}

/* quote(s, q): wraps s in q...q doubling q and (for E strings) backslashes. */
static char *quote(const char *s, size_t n, const char *open, char q, int esc)
{
    char *o = malloc(2 * n + 8), *p = o;
    p += strlen(strcpy(p, open));
    for (size_t i = 0; i < n; i++) {
        if (s[i] == q || (esc && s[i] == '\\')) *p++ = s[i];
        *p++ = s[i];
    }
    *p++ = q;
    *p = 0;
    return o;
}

static int single_token(const char *sql, pg_tok_kind k, const char *want, size_t wn)
{
    pg_lexer lx;
    pg_lex_init(&lx, sql, strlen(sql), 1);
    pg_token t, u;
    if (pg_lex_next(&lx, &t) != 1) return 0;
    int ok = t.kind == k && t.val_len == wn && !memcmp(t.val, want, wn) && pg_lex_next(&lx, &u) == 0;
    pg_token_free(&t);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    lex_all(s, size, 1);
    lex_all(s, size, 0);
    char why[400];
    int r = pg_readonly_check(s, why, sizeof why);
    if (r != 0 && r != -1) abort();
    if (r == -1 && (!memchr(why, 0, sizeof why) || !why[0])) abort();
    if (!memchr(s, 0, size)) {
        char *e = quote(s, size, "E'", '\'', 1);
        if (!single_token(e, PGT_STRING, s, size)) abort();
        char *sel = malloc(strlen(e) + 16);
        strcpy(sel, "SELECT ");
        strcat(sel, e);
        if (pg_readonly_check(sel, why, sizeof why) != 0) abort();
        free(sel);
        free(e);
        if (size > 0 && size <= 63) {
            char *q = quote(s, size, "\"", '"', 0);
            if (!single_token(q, PGT_QIDENT, s, size)) abort();
            free(q);
        }
    }
    free(s);
    return 0;
}
