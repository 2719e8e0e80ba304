/* A PostgreSQL SQL lexer (the rules of the server's scan.l, PostgreSQL 15/16) and the
 * read-only text check built on it: the SECOND layer of query_readonly. The guard is the
 * database (READ ONLY transaction, one statement per Parse, the login's privileges); this
 * layer refuses early, with a clear reason, what a read-only call never needs.
 *
 * Identifiers are returned decoded: unquoted ones case-folded, "quoted" ones with ""
 * collapsed, U&"..." ones with their \XXXX / \+XXXXXX escapes (and UESCAPE) decoded, all
 * truncated to 63 bytes as the server does. So the deny-list compares against the name the
 * server will resolve, whatever spelling hid it. Anything the lexer cannot decode exactly
 * (bad escape, unterminated literal or comment, bad UESCAPE) is refused, never guessed. */
#ifndef CB_PG_LEXER_H
#define CB_PG_LEXER_H
#include <stddef.h>

typedef enum {
    PGT_EOF = 0,
    PGT_IDENT,   /* unquoted identifier or keyword; val is case-folded */
    PGT_QIDENT,  /* "quoted" or U&"..." identifier; val is decoded */
    PGT_STRING,  /* '...', E'...', U&'...', $tag$...$tag$; val is decoded */
    PGT_BITSTR,  /* B'...' or X'...'; val is the digits */
    PGT_NUMBER,
    PGT_PARAM,   /* $1 */
    PGT_OP,      /* operator (run of operator characters) */
    PGT_PUNCT,   /* one of , ( ) [ ] . ; : and the two-character :: := => .. */
    PGT_OTHER    /* a character the server's lexer rejects (e.g. a stray backslash) */
} pg_tok_kind;

/* Token flags */
#define PGT_F_UNICODE 1 /* U&"..." or U&'...' */
#define PGT_F_ESCAPE 2  /* E'...' (or '...' with standard_conforming_strings off) */
#define PGT_F_DOLLAR 4  /* $tag$...$tag$ */

typedef struct {
    pg_tok_kind kind;
    int flags;
    size_t off, len; /* the token's bytes in the source (for a U& token: without UESCAPE) */
    char *val;       /* malloc'd, NUL-terminated decoded value (IDENT/QIDENT/STRING/BITSTR), else NULL */
    size_t val_len;
} pg_token;

typedef struct {
    const char *src;
    size_t len, pos;
    int scs;         /* standard_conforming_strings: 1 (the server default since 9.1) or 0 */
    char err[160];   /* why pg_lex_next returned -1 */
} pg_lexer;

/* src need not be NUL-terminated; a NUL byte inside is a lexing error. */
void pg_lex_init(pg_lexer *lx, const char *src, size_t len, int standard_conforming_strings);
/* Next token (whitespace and comments skipped): 1 = token in *t, 0 = end, -1 = error
 * (lx->err says why). Free each token with pg_token_free. */
int pg_lex_next(pg_lexer *lx, pg_token *t);
void pg_token_free(pg_token *t);

/* The read-only text check. 0 = accepted; -1 = refused with a one-line reason in why.
 * The statement is lexed twice, with standard_conforming_strings on and off, and must
 * pass both (a server or database configured with it off reads '\'' differently). */
int pg_readonly_check(const char *sql, char *why, size_t whylen);

/* The deny-lists, ended by a NULL name (exposed for the tests and the README). A function
 * name is refused when it equals an entry of the first or starts with one of the second;
 * why says what the function would do outside the READ ONLY transaction. */
typedef struct { const char *name, *why; } pg_denied_fn;
extern const pg_denied_fn pg_denied_functions[];
extern const pg_denied_fn pg_denied_prefixes[];

#endif
